"""The bundled knowledge: this folder ships inside the package as `bot.knowledge` (see
pyproject.toml) and is read with importlib.resources (`bot.settings.bundled_knowledge_dir`)."""
