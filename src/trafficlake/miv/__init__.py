"""The MIV source: feed and config parsers, live HTTP client, and a traffic simulator."""
