"""A stand-alone local stand-in for the Qualtrics v3 REST API (see README.md)."""
