"""codecustom: customize a code model to one repository."""

__version__ = "0.1.0"
