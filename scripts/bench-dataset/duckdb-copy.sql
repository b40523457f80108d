SET TimeZone = 'UTC';
SET preserve_insertion_order = false;
CREATE OR REPLACE MACRO export_json(path) AS TABLE
  SELECT * FROM read_json(path, format = 'newline_delimited', columns = {
    id: 'VARCHAR', account_id: 'VARCHAR', project_id: 'VARCHAR', variant_id: 'VARCHAR',
    variant_name: 'VARCHAR', environment: 'VARCHAR', started_at: 'TIMESTAMPTZ', channel: 'VARCHAR',
    from_number: 'VARCHAR', to_number: 'VARCHAR', in_progress: 'BOOLEAN', num_turns: 'BIGINT',
    total_duration: 'BIGINT', polyai_duration: 'BIGINT', handoff: 'BOOLEAN', handoff_reason: 'VARCHAR',
    handoff_destination: 'VARCHAR', num_silences: 'BIGINT', num_ood: 'BIGINT',
    turns: 'STRUCT(user_input VARCHAR, user_input_datetime TIMESTAMPTZ, agent_response VARCHAR, agent_response_datetime TIMESTAMPTZ, latency DOUBLE)[]'});
COPY (
  SELECT id AS conversation_id, 'v3' AS api, nullif(account_id, '') AS account_id,
         nullif(project_id, '') AS project_id, nullif(environment, '') AS environment,
         nullif(channel, '') AS channel, started_at, in_progress, total_duration, polyai_duration,
         nullif(from_number, '') AS from_number, nullif(to_number, '') AS to_number,
         nullif(variant_id, '') AS variant_id, nullif(variant_name, '') AS variant_name, handoff,
         nullif(handoff_destination, '') AS handoff_destination,
         nullif(handoff_reason, '') AS handoff_reason, len(turns) AS turn_count, num_silences, num_ood,
         coalesce(strftime(started_at, '%Y-%m-%d'), '__HIVE_DEFAULT_PARTITION__') AS date
  FROM export_json(getvariable('jsonl'))
) TO (getvariable('out') || '/conversations') (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date));
COPY (
  SELECT conversation_id, turn_index, t.user_input AS user_input, t.agent_response AS agent_response,
         t.user_input_datetime AS user_input_at, t.agent_response_datetime AS agent_response_at,
         t.latency AS latency, date
  FROM (SELECT id AS conversation_id, unnest(turns) AS t, unnest(range(len(turns))) AS turn_index,
               coalesce(strftime(started_at, '%Y-%m-%d'), '__HIVE_DEFAULT_PARTITION__') AS date
        FROM export_json(getvariable('jsonl')))
) TO (getvariable('out') || '/turns') (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date));
