-- The traffic transform (docs/architecture.md, "The transform"): raw lane-minutes -> one row per road section and minute.
--
-- Portable subset of DuckDB and Spark SQL (no QUALIFY, no ::, no FILTER, no lambdas,
-- no engine-only functions). The engine exposes the raw read set as the view `raw_input`
-- (RAW_SCHEMA columns); trafficlake.transform.sql.render_traffic_sql() fills the parameters:
--   {start}, {end}        output range [start, end) in epoch seconds (whole UTC days)
--   {lookback}            LOOKBACK_SECONDS: how far the 20-minute window reaches back (19 min)
--   {lookback_start}      start - {lookback}
--   {short_window}        AVG_SHORT_SECONDS: how far the 3-minute window reaches back (2 min)
--   {jam_threshold}       km/h (transform.jam_threshold_kmh, default 40)
--   {location_filter}     a boolean expression on unieke_id (`TRUE` or `unieke_id IN (...)`)
-- Every threshold comparison allows 1e-9 km/h of slack, so that floating-point summation order
-- can never flip an indicator.
WITH
-- 1. the read set: event time in [start - look-back, end), optional lane list (a key column, so
--    it may be applied before de-duplication). Written out twice (read_set, repeated_set) so
--    that no engine materialises all its columns for its two uses below.
read_set AS (
  SELECT
    unieke_id, lve_nr, tijd_waarneming, tijd_laatst_gewijzigd, tijd_publicatie, arrival_time,
    defect, rekendata_bezettingsgraad,
    verkeersintensiteit_klasse2 AS i2, verkeersintensiteit_klasse3 AS i3,
    verkeersintensiteit_klasse4 AS i4, verkeersintensiteit_klasse5 AS i5,
    voertuigsnelheid_rekenkundig_klasse2 AS a2, voertuigsnelheid_rekenkundig_klasse3 AS a3,
    voertuigsnelheid_rekenkundig_klasse4 AS a4, voertuigsnelheid_rekenkundig_klasse5 AS a5,
    voertuigsnelheid_harmonisch_klasse2 AS h2, voertuigsnelheid_harmonisch_klasse3 AS h3,
    voertuigsnelheid_harmonisch_klasse4 AS h4, voertuigsnelheid_harmonisch_klasse5 AS h5
  FROM raw_input
  WHERE tijd_waarneming >= {lookback_start} AND tijd_waarneming < {end}
    AND ({location_filter})
),
repeated_set AS (
  SELECT
    unieke_id, lve_nr, tijd_waarneming, tijd_laatst_gewijzigd, tijd_publicatie, arrival_time,
    defect, rekendata_bezettingsgraad,
    verkeersintensiteit_klasse2 AS i2, verkeersintensiteit_klasse3 AS i3,
    verkeersintensiteit_klasse4 AS i4, verkeersintensiteit_klasse5 AS i5,
    voertuigsnelheid_rekenkundig_klasse2 AS a2, voertuigsnelheid_rekenkundig_klasse3 AS a3,
    voertuigsnelheid_rekenkundig_klasse4 AS a4, voertuigsnelheid_rekenkundig_klasse5 AS a5,
    voertuigsnelheid_harmonisch_klasse2 AS h2, voertuigsnelheid_harmonisch_klasse3 AS h3,
    voertuigsnelheid_harmonisch_klasse4 AS h4, voertuigsnelheid_harmonisch_klasse5 AS h5
  FROM raw_input
  WHERE tijd_waarneming >= {lookback_start} AND tijd_waarneming < {end}
    AND ({location_filter})
),
-- 2. de-duplicate: one row per (unieke_id, tijd_waarneming): the latest modification, then
--    the latest arrival (then the latest publication, for determinism). A key read more than
--    once is found without grouping every row by its key: rows are counted per minute and
--    block of {lane_block} lane ids, next to a bitmask of the lane ids seen (bit = id mod
--    {lane_block}, set by an integer shift; bit_count of the OR = distinct ids). A block-minute
--    with more rows than distinct ids holds a repeated key; elsewhere every key has one
--    version, so rank 1 by definition, and only the (few) rows of suspect block-minutes are
--    ranked by the window.
--    A NULL id has no bit, so its block-minute is always suspect (and ranked).
--    The BROADCAST hints (comments to DuckDB) keep Spark from shuffling the whole read set to
--    join it with the few suspect block-minutes (it broadcasts them instead).
block_counts AS (
  SELECT
    tijd_waarneming AS block_t,
    CAST(FLOOR(unieke_id / {lane_block}) AS BIGINT) AS block_n,
    COUNT(*) AS block_rows,
    COALESCE(bit_count(bit_or(CAST(1 AS BIGINT) << CAST(
      unieke_id - {lane_block} * FLOOR(unieke_id / {lane_block}) AS INT))), 0) AS block_ids
  FROM raw_input
  WHERE tijd_waarneming >= {lookback_start} AND tijd_waarneming < {end}
    AND ({location_filter})
  GROUP BY tijd_waarneming, CAST(FLOOR(unieke_id / {lane_block}) AS BIGINT)
),
suspect_blocks AS (
  SELECT block_t, block_n FROM block_counts WHERE block_rows > block_ids
),
ranked AS (
  SELECT /*+ BROADCAST(suspect_blocks) */ read_set.*, 1 AS version_rank
  FROM read_set LEFT JOIN suspect_blocks
    ON read_set.tijd_waarneming = suspect_blocks.block_t
    AND CAST(FLOOR(read_set.unieke_id / {lane_block}) AS BIGINT)
      IS NOT DISTINCT FROM suspect_blocks.block_n
  WHERE suspect_blocks.block_t IS NULL
  UNION ALL
  SELECT /*+ BROADCAST(suspect_blocks) */
    repeated_set.*,
    row_number() OVER (
      PARTITION BY unieke_id, tijd_waarneming
      ORDER BY tijd_laatst_gewijzigd DESC NULLS LAST, arrival_time DESC,
               tijd_publicatie DESC NULLS LAST
    ) AS version_rank
  FROM repeated_set JOIN suspect_blocks
    ON repeated_set.tijd_waarneming = suspect_blocks.block_t
    AND CAST(FLOOR(repeated_set.unieke_id / {lane_block}) AS BIGINT)
      IS NOT DISTINCT FROM suspect_blocks.block_n
),
-- 3. valid lanes; 4. which classes count (intensity > 0 and arithmetic speed in 0..200)
valid_lanes AS (
  SELECT
    unieke_id, lve_nr, COALESCE(lve_nr, -unieke_id) AS section_key, tijd_waarneming,
    rekendata_bezettingsgraad, i2, i3, i4, i5, a2, a3, a4, a5,
    CASE WHEN i2 > 0 AND a2 BETWEEN 0 AND 200 THEN 1 ELSE 0 END AS c2,
    CASE WHEN i3 > 0 AND a3 BETWEEN 0 AND 200 THEN 1 ELSE 0 END AS c3,
    CASE WHEN i4 > 0 AND a4 BETWEEN 0 AND 200 THEN 1 ELSE 0 END AS c4,
    CASE WHEN i5 > 0 AND a5 BETWEEN 0 AND 200 THEN 1 ELSE 0 END AS c5,
    -- the speeds of the counted classes only (a missing speed of a class that does not count
    -- must not make the lane's speed NULL)
    CASE WHEN i2 > 0 AND a2 BETWEEN 0 AND 200 THEN a2 ELSE 0 END AS s2,
    CASE WHEN i3 > 0 AND a3 BETWEEN 0 AND 200 THEN a3 ELSE 0 END AS s3,
    CASE WHEN i4 > 0 AND a4 BETWEEN 0 AND 200 THEN a4 ELSE 0 END AS s4,
    CASE WHEN i5 > 0 AND a5 BETWEEN 0 AND 200 THEN a5 ELSE 0 END AS s5,
    CASE WHEN i2 > 0 AND h2 > 0 AND h2 <= 200 THEN i2 ELSE 0 END AS hn2,
    CASE WHEN i3 > 0 AND h3 > 0 AND h3 <= 200 THEN i3 ELSE 0 END AS hn3,
    CASE WHEN i4 > 0 AND h4 > 0 AND h4 <= 200 THEN i4 ELSE 0 END AS hn4,
    CASE WHEN i5 > 0 AND h5 > 0 AND h5 <= 200 THEN i5 ELSE 0 END AS hn5,
    h2, h3, h4, h5
  FROM ranked
  WHERE version_rank = 1 AND defect = 0 AND rekendata_bezettingsgraad > -1
),
-- 4. per lane: laneSpeed = (sum of counted speeds) / (number of counted classes), kept as an
--    exact integer numerator over the common denominator 12 (= lcm(1..4)), so the section
--    average below is an integer sum divided once: exact and independent of summation order.
lanes AS (
  SELECT
    unieke_id, lve_nr, section_key, tijd_waarneming, rekendata_bezettingsgraad,
    i2, i3, i4, i5,
    -- a class whose intensity is missing counts no vehicles; a lane with none known has none
    CASE WHEN i2 IS NULL AND i3 IS NULL AND i4 IS NULL AND i5 IS NULL THEN NULL
      ELSE COALESCE(i2, 0) + COALESCE(i3, 0) + COALESCE(i4, 0) + COALESCE(i5, 0)
    END AS lane_vehicles,
    CASE c2 + c3 + c4 + c5
      WHEN 1 THEN 12 * (s2 + s3 + s4 + s5)
      WHEN 2 THEN 6 * (s2 + s3 + s4 + s5)
      WHEN 3 THEN 4 * (s2 + s3 + s4 + s5)
      WHEN 4 THEN 3 * (s2 + s3 + s4 + s5)
    END AS lane_speed_x12,
    hn2 + hn3 + hn4 + hn5 AS harmonic_n,
    -- sum(n / v_harmonic) of the lane in fixed point (1e-12 vehicle-hours per km), so the
    -- section sum below is an exact integer sum: the same whatever the summation order
    CAST(FLOOR((
      CASE WHEN hn2 > 0 THEN CAST(hn2 AS DOUBLE) / h2 ELSE 0.0 END
      + CASE WHEN hn3 > 0 THEN CAST(hn3 AS DOUBLE) / h3 ELSE 0.0 END
      + CASE WHEN hn4 > 0 THEN CAST(hn4 AS DOUBLE) / h4 ELSE 0.0 END
      + CASE WHEN hn5 > 0 THEN CAST(hn5 AS DOUBLE) / h5 ELSE 0.0 END) * 1e12) AS BIGINT)
      AS harmonic_t_e12
  FROM valid_lanes
),
-- 5. one row per road section (lve_nr) and minute
sections AS (
  SELECT
    section_key,
    MAX(lve_nr) AS lve_nr,
    MAX(unieke_id) AS uniqueId,
    tijd_waarneming AS recordTimestamp,
    CASE WHEN COUNT(lane_speed_x12) > 0
      THEN CAST(SUM(lane_speed_x12) AS DOUBLE) / CAST(12 * COUNT(lane_speed_x12) AS DOUBLE)
    END AS currentSpeed,
    CAST(SUM(i2) AS INT) AS trafficIntensityClass2,
    CAST(SUM(i3) AS INT) AS trafficIntensityClass3,
    CAST(SUM(i4) AS INT) AS trafficIntensityClass4,
    CAST(SUM(i5) AS INT) AS trafficIntensityClass5,
    CAST(ROUND(AVG(lane_vehicles)) AS INT) AS bezettingsgraad,
    CAST(COUNT(*) AS INT) AS laneCount,
    CAST(SUM(lane_vehicles) AS INT) AS vehicleCount,
    AVG(rekendata_bezettingsgraad) AS occupancy,
    CASE WHEN SUM(harmonic_n) > 0
      THEN CAST(SUM(harmonic_n) AS DOUBLE) * 1e12 / CAST(SUM(harmonic_t_e12) AS DOUBLE)
    END AS harmonicSpeed
  FROM lanes
  GROUP BY section_key, tijd_waarneming
),
-- 6. windows per section by TIME (RANGE over epoch seconds): gaps never stretch them
windowed AS (
  SELECT
    sections.*,
    lag(currentSpeed, 1) OVER (PARTITION BY section_key ORDER BY recordTimestamp)
      AS lag_speed,
    lag(recordTimestamp, 1) OVER (PARTITION BY section_key ORDER BY recordTimestamp)
      AS lag_timestamp,
    avg(currentSpeed) OVER (
      PARTITION BY section_key ORDER BY recordTimestamp
      RANGE BETWEEN {short_window} PRECEDING AND CURRENT ROW) AS avgSpeed3Minutes,
    avg(currentSpeed) OVER (
      PARTITION BY section_key ORDER BY recordTimestamp
      RANGE BETWEEN {lookback} PRECEDING AND CURRENT ROW) AS avgSpeed20Minutes
  FROM sections
),
-- 7. only rows in [start, end); previousSpeed only when the previous minute exists
output_rows AS (
  SELECT
    windowed.*,
    CASE WHEN lag_timestamp = recordTimestamp - 60 THEN lag_speed END AS previousSpeed,
    CAST(FLOOR(recordTimestamp / 86400) AS BIGINT) + 719468 AS civil_z
  FROM windowed
  WHERE recordTimestamp >= {start} AND recordTimestamp < {end}
),
-- UTC calendar fields from epoch days (H. Hinnant's civil_from_days, integer arithmetic only,
-- so the session time zone of the engine plays no part)
civil_era AS (
  SELECT
    output_rows.*,
    civil_z - CAST(FLOOR(civil_z / 146097) AS BIGINT) * 146097 AS civil_doe,
    CAST(FLOOR(civil_z / 146097) AS BIGINT) AS civil_era_n
  FROM output_rows
),
civil_year AS (
  SELECT
    civil_era.*,
    CAST(FLOOR((civil_doe - FLOOR(civil_doe / 1460) + FLOOR(civil_doe / 36524)
                - FLOOR(civil_doe / 146096)) / 365) AS BIGINT) AS civil_yoe
  FROM civil_era
),
civil_month AS (
  SELECT
    civil_year.*,
    civil_doe - (365 * civil_yoe + CAST(FLOOR(civil_yoe / 4) AS BIGINT)
                 - CAST(FLOOR(civil_yoe / 100) AS BIGINT)) AS civil_doy
  FROM civil_year
),
civil AS (
  SELECT
    civil_month.*,
    CAST(FLOOR((5 * civil_doy + 2) / 153) AS BIGINT) AS civil_mp
  FROM civil_month
)
SELECT
  uniqueId,
  recordTimestamp,
  currentSpeed,
  bezettingsgraad,
  previousSpeed,
  CASE
    WHEN avgSpeed3Minutes >= -1e-9 AND avgSpeed3Minutes <= {jam_threshold} + 1e-9 THEN 1
    WHEN avgSpeed3Minutes > {jam_threshold} + 1e-9 AND avgSpeed3Minutes <= 250 + 1e-9 THEN 0
    ELSE -1
  END AS trafficJamIndicator,
  CASE
    WHEN avgSpeed20Minutes >= -1e-9 AND avgSpeed20Minutes <= {jam_threshold} + 1e-9 THEN 1
    WHEN avgSpeed20Minutes > {jam_threshold} + 1e-9 AND avgSpeed20Minutes <= 250 + 1e-9 THEN 0
    ELSE -1
  END AS trafficJamIndicatorLong,
  trafficIntensityClass2,
  trafficIntensityClass3,
  trafficIntensityClass4,
  trafficIntensityClass5,
  CASE
    WHEN currentSpeed - previousSpeed >= 20 - 1e-9 THEN 1
    WHEN currentSpeed - previousSpeed <= -20 + 1e-9 THEN -1
    ELSE 0
  END AS speedDiffIndicator,
  avgSpeed3Minutes,
  avgSpeed20Minutes,
  lve_nr,
  laneCount,
  vehicleCount,
  occupancy,
  harmonicSpeed,
  CAST(civil_yoe + civil_era_n * 400
       + CASE WHEN civil_mp < 10 THEN 0 ELSE 1 END AS INT) AS year,
  CAST(CASE WHEN civil_mp < 10 THEN civil_mp + 3 ELSE civil_mp - 9 END AS INT) AS month,
  CAST(civil_doy - FLOOR((153 * civil_mp + 2) / 5) + 1 AS INT) AS day,
  CAST(FLOOR((recordTimestamp - FLOOR(recordTimestamp / 86400) * 86400) / 3600) AS INT) AS hour
FROM civil
