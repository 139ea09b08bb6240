"""What a traffic analyst asks first, derived from the lake: roads, jams, detector health.

- :mod:`~trafficlake.roads.sections` places each road section (an ``lve_nr`` group of lanes) on
  its road and direction by reference kilometre, with its neighbours (the ``sections`` view);
- :mod:`~trafficlake.roads.jams` finds jam episodes (hysteresis per section, merged along the
  road) with the figures PeMS reports;
- :mod:`~trafficlake.roads.health` scores each detector (lane) per day;
- :mod:`~trafficlake.roads.derive` keeps the ``jams`` and ``detector_health`` tables current,
  incrementally, with the transform's bookmarks and commit protocol.
"""
