"""djstack: turn a Django project into a production Docker Compose stack."""

__version__ = "0.1.0"
