INSERT INTO traffic.lane_minutes
SELECT unieke_id,
       count(*) AS observations,
       max(tijd_waarneming) AS last_seen,
       CAST(year AS varchar) AS year,
       CAST(month AS varchar) AS month,
       CAST(day AS varchar) AS day
FROM traffic.raw
WHERE CAST(year AS varchar) = '{year}' AND CAST(month AS varchar) = '{month}'
  AND CAST(day AS varchar) = '{day}'
GROUP BY unieke_id, year, month, day
