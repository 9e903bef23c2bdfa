"""egvsr: FPGA co-design toolkit for EGVSR video super-resolution."""
__version__ = "0.1.0"
