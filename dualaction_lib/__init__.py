"""Dual-action Stream workbook: RGB students distilled from a TV-L1 flow teacher."""

__version__ = "0.1.0"
