//! A [`ConversationRecord`] as rows of the four tables, and its partition.

use arrow_array::RecordBatch;
use polyai_data::Timestamp;
use polyai_data::record::ConversationRecord;

use crate::schema::{
    ColumnBuilder, NULL_PARTITION, Table, append_conversation, append_function_event,
    append_metric, append_turn,
};

/// The partition a conversation's rows go to: the UTC date it started (`2026-06-03`), or
/// [`NULL_PARTITION`] without a start time.
///
/// ```
/// use polyai_data::record::{Api, ConversationRecord};
/// let mut record = ConversationRecord::new("CA1", Api::V3);
/// assert_eq!(polyai_dataset::partition_of(&record), "__HIVE_DEFAULT_PARTITION__");
/// record.started_at = Some("2026-06-03T23:59:59+00:00".parse()?);
/// assert_eq!(polyai_dataset::partition_of(&record), "2026-06-03");
/// record.started_at = Some("2026-06-03T23:59:59-01:00".parse()?);
/// assert_eq!(polyai_dataset::partition_of(&record), "2026-06-04");
/// # Ok::<(), polyai_data::Error>(())
/// ```
pub fn partition_of(record: &ConversationRecord) -> String {
    record
        .started_at
        .and_then(utc_date)
        .unwrap_or_else(|| NULL_PARTITION.to_owned())
}

/// `YYYY-MM-DD` of `time` in UTC; `None` outside the years 0000–9999.
fn utc_date(time: Timestamp) -> Option<String> {
    let text = time.to_rfc3339_micros();
    let date = text.get(..10)?;
    (date.len() == 10
        && date.as_bytes()[4] == b'-'
        && date.bytes().take(4).all(|b| b.is_ascii_digit()))
    .then(|| date.to_owned())
}

/// The rows of one table while they are added, before they become a [`RecordBatch`].
#[derive(Debug)]
pub(crate) struct TableRows {
    pub table: Table,
    builders: Vec<ColumnBuilder>,
    rows: usize,
}

impl TableRows {
    pub fn new(table: Table) -> Self {
        TableRows {
            table,
            builders: table
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.ty))
                .collect(),
            rows: 0,
        }
    }

    /// Rows added since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Adds `record`'s rows of this table; returns how many.
    pub fn append(&mut self, record: &ConversationRecord) -> usize {
        let before = self.rows;
        let b = &mut self.builders;
        match self.table {
            Table::Conversations => {
                append_conversation(b, record, &());
                self.rows += 1;
            }
            Table::Turns => {
                for turn in record.turns.iter().flatten() {
                    append_turn(b, record, turn);
                    self.rows += 1;
                }
            }
            Table::FunctionEvents => {
                for event in record.function_events.iter().flatten() {
                    append_function_event(b, record, event);
                    self.rows += 1;
                }
            }
            Table::Metrics => {
                for metric in record.metrics.iter().flatten() {
                    append_metric(b, record, metric);
                    self.rows += 1;
                }
            }
        }
        self.rows - before
    }

    /// The rows added so far as one batch; empty afterwards.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.rows = 0;
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        RecordBatch::try_new(self.table.arrow_schema(), columns)
    }
}

/// `record` as one batch per table (tables without rows included, empty): for tests and
/// one-off conversions.
///
/// ```
/// use polyai_data::record::ConversationRecord;
/// use polyai_dataset::{Table, record_batches};
/// let record = ConversationRecord::from_v3(&serde_json::json!({"id": "CA1",
///     "turns": [{"user_input": "", "agent_response": "Hello"}, {"user_input": "hi"}]})).expect("id");
/// let batches = record_batches(&record)?;
/// let rows: Vec<usize> = batches.iter().map(|(_, b)| b.num_rows()).collect();
/// assert_eq!(rows, [1, 2, 0, 0]);
/// assert_eq!(batches[1].0, Table::Turns);
/// # Ok::<(), arrow_schema::ArrowError>(())
/// ```
pub fn record_batches(
    record: &ConversationRecord,
) -> Result<Vec<(Table, RecordBatch)>, arrow_schema::ArrowError> {
    Table::ALL
        .into_iter()
        .map(|table| {
            let mut rows = TableRows::new(table);
            rows.append(record);
            Ok((table, rows.finish()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_across_eras() {
        let date = |t: &str| utc_date(t.parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(date("1970-01-01T00:00:00Z").as_deref(), Some("1970-01-01"));
        assert_eq!(
            date("1969-12-31T23:59:59.999999Z").as_deref(),
            Some("1969-12-31")
        );
        assert_eq!(date("2000-02-29T12:00:00Z").as_deref(), Some("2000-02-29"));
        assert_eq!(date("2024-12-31T23:59:59Z").as_deref(), Some("2024-12-31"));
        assert_eq!(date("0000-03-01T00:00:00Z").as_deref(), Some("0000-03-01"));
        assert_eq!(date("9999-12-30T00:00:00Z").as_deref(), Some("9999-12-30"));
        let before_zero = Timestamp::from_unix_micros(-62_167_219_200_000_001).map(utc_date);
        assert_eq!(before_zero, Some(None));
    }
}
