SET TimeZone = 'UTC';
SET preserve_insertion_order = false;
CREATE OR REPLACE MACRO export_json(path) AS TABLE
  SELECT * FROM read_json(path, format = 'newline_delimited', columns = {
    conversation_id: 'VARCHAR', api: 'VARCHAR', account_id: 'VARCHAR', project_id: 'VARCHAR',
    variant_id: 'VARCHAR', variant_name: 'VARCHAR', environment: 'VARCHAR',
    started_at: 'TIMESTAMPTZ', channel: 'VARCHAR', from_number: 'VARCHAR', to_number: 'VARCHAR',
    in_progress: 'BOOLEAN', turn_count: 'BIGINT', total_duration: 'BIGINT',
    polyai_duration: 'BIGINT', handoff: 'BOOLEAN', handoff_reason: 'VARCHAR',
    handoff_destination: 'VARCHAR', num_silences: 'BIGINT', num_ood: 'BIGINT',
    turns: 'STRUCT(turn_index BIGINT, user_input VARCHAR, user_input_at TIMESTAMPTZ, agent_response VARCHAR, agent_response_at TIMESTAMPTZ, latency DOUBLE)[]'});
COPY (
  SELECT conversation_id, api, account_id, project_id, environment, channel, started_at,
         in_progress, total_duration, polyai_duration, from_number, to_number, variant_id,
         variant_name, handoff, handoff_destination, handoff_reason, turn_count, num_silences,
         num_ood,
         coalesce(strftime(started_at, '%Y-%m-%d'), '__HIVE_DEFAULT_PARTITION__') AS date
  FROM export_json(getvariable('jsonl'))
) TO (getvariable('out') || '/conversations') (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date));
COPY (
  SELECT conversation_id, t.turn_index AS turn_index, t.user_input AS user_input,
         t.agent_response AS agent_response, t.user_input_at AS user_input_at,
         t.agent_response_at AS agent_response_at, t.latency AS latency, date
  FROM (SELECT conversation_id, unnest(turns) AS t,
               coalesce(strftime(started_at, '%Y-%m-%d'), '__HIVE_DEFAULT_PARTITION__') AS date
        FROM export_json(getvariable('jsonl')))
) TO (getvariable('out') || '/turns') (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date));
