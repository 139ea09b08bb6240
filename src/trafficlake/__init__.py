"""trafficlake: the MIV loop-detector feed into an analysable data lake."""

__version__ = "0.1.0"
