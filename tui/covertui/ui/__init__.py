"""The Textual app. Thin: it calls the services (sync, embed, search) and shows their results."""
