//! The one choice of where `conversations list`, `export` and `sync` read: `--api` and `--env`,
//! made into a [`Listing`], and the first stderr line that names it.

use polyai_data::Agent;
use polyai_data::listing::{Environments, Listing};
use polyai_data::record::Api;

use crate::cli::{ApiArg, SourceArgs};
use crate::exit::CliError;
use crate::session::Session;

/// Where a command reads: the API (with the account v3 needs) and the environments.
#[derive(Debug, Clone)]
pub struct Source {
    /// The API.
    pub api: Api,
    /// The account, for v3.
    pub account: Option<String>,
    /// The environments kept.
    pub environments: Environments,
}

impl Source {
    /// The source `args` name. `v3_only` are the flags given that only v3 serves: with
    /// `--api data` they are refused, naming them.
    pub fn choose(
        session: &Session,
        args: &SourceArgs,
        v3_only: &[&str],
    ) -> Result<Source, CliError> {
        let account = match args.api {
            ApiArg::Data => {
                if !v3_only.is_empty() {
                    return Err(CliError::Usage(format!(
                        "{} need{} the Conversations API v3; drop --api data (v3 is the default)",
                        v3_only.join(", "),
                        if v3_only.len() == 1 { "s" } else { "" }
                    )));
                }
                None
            }
            ApiArg::V3 => Some(session.account().ok_or_else(|| {
                CliError::Usage(
                    "the Conversations API v3 (--api v3, the default) needs an account: pass \
                     --account ID or set POLYAI_ACCOUNT_ID (Agent Studio → Workspace ID, e.g. \
                     ws-fd112d8f), or read the deprecated Data API with --api data"
                        .into(),
                )
            })?),
        };
        Ok(Source {
            api: args.api.api(),
            account,
            environments: args.environments,
        })
    }

    /// The listing of `agent` this source reads, with the builders the command configured.
    pub fn listing(
        &self,
        session: &Session,
        agent: &Agent,
        data: impl FnOnce(
            polyai_data::conversations::ListConversations,
        ) -> polyai_data::conversations::ListConversations,
        v3: impl FnOnce(
            polyai_data::v3::ListConversations,
        ) -> Result<polyai_data::v3::ListConversations, CliError>,
    ) -> Result<Listing, CliError> {
        let listing = match &self.account {
            Some(account) => Listing::v3(v3(session.project(account)?.conversations())?),
            None => Listing::data(data(agent.conversations().list())),
        };
        Ok(listing.environments(self.environments))
    }

    /// The first line a command prints on stderr, e.g. `reading the Conversations API v3
    /// (account ws-1, agent PROJECT-1), environment live`.
    pub fn describe(&self, agent: &str) -> String {
        match &self.account {
            Some(account) => format!(
                "reading the Conversations API v3 (account {account}, agent {agent}), environment {}",
                self.environments
            ),
            None => format!(
                "reading the Data API (agent {agent}; deprecated by PolyAI: --api v3 reads its \
                 successor), environment {}",
                self.environments
            ),
        }
    }

    /// Announces the source on stderr.
    pub fn announce(&self, agent: &str) {
        crate::output::note!("{}", self.describe(agent));
    }
}
