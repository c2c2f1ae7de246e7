"""Running the app in a terminal: the picture protocol, the event loop and the worker threads."""

from __future__ import annotations

import asyncio

from ..config import Settings


def run_app(settings: Settings, graphics: str | None = None) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .app import CovertuiApp
    from .graphics import choose_graphics

    chosen = choose_graphics(graphics or settings.graphics)
    app = CovertuiApp(settings, chosen)
    # The app's own loop and worker threads: asyncio.run() would wait for every worker at the end,
    # and a cancelled sync can sit in a hung download for the whole request timeout (or a model
    # load). Idle workers end here; busy ones are left to `cli.run`.
    workers = ThreadPoolExecutor(thread_name_prefix="covertui-worker")
    loop = asyncio.new_event_loop()
    loop.set_default_executor(workers)
    try:
        app.run(loop=loop)
    finally:
        workers.shutdown(wait=False, cancel_futures=True)
        loop.close()
        chosen.release()  # pictures the terminal keeps: deleted now, not at interpreter exit
    return app.return_code or 0
