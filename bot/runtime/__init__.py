"""Running the bot as a service: logging, platform supervision, health, shutdown, backups."""
