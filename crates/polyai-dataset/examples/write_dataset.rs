//! Writes the mock server's conversations (Data API details: turns, function events, metrics)
//! into a dataset, twice: the second run finds every conversation unchanged and writes nothing.
//! Then prints what the dataset holds.
//!
//! `cargo run -p polyai-dataset --example write_dataset -- /tmp/calls [CONVERSATIONS]`
//! (or `s3://bucket/prefix` when built with `--features aws`, credentials from the environment).

use polyai_data::record::ConversationRecord;
use polyai_dataset::{DatasetInfo, DatasetWriter, Destination, WriteOptions};
use polyai_mock::MockConfig;
use polyai_mock::data::Dataset;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let destination: Destination = args
        .next()
        .ok_or("usage: write_dataset DIR_OR_URL [N]")?
        .parse()?;
    let n: u64 = args.next().map_or(Ok(2_000), |n| n.parse())?;
    let data = Dataset::new(&MockConfig::default().conversations(n));
    let agent = data.agents[0].id.clone();
    for run in 1..=2 {
        let mut writer = DatasetWriter::open(&destination, WriteOptions::default()).await?;
        for i in 0..n {
            let detail = data
                .conversation(0, i)
                .detail_json(&agent, &data.account_id, None, &[]);
            let record =
                ConversationRecord::from_data_api(&detail).ok_or("a detail without an id")?;
            writer.upsert(&record)?;
            if i % 1_000 == 999 {
                writer.commit().await?;
            }
        }
        let report = writer.finish().await?;
        println!(
            "run {run}: {} new, {} changed, {} unchanged; {} conversations (generation {})",
            report.new, report.changed, report.unchanged, report.conversations, report.generation
        );
    }
    print!("{}", DatasetInfo::read(&destination).await?);
    Ok(())
}
