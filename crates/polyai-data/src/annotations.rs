//! QA annotations on conversation turns.

use crate::client::Agent;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::{AddAnnotationsBody, AnnotationItem};
use crate::transport::CallOptions;

/// Which side of a turn an annotation flags (`user` or `agent`).
pub use crate::models::AnnotationItemRole as Role;

/// The issue an annotation reports (`missing_topic`, `wrong_transcript`, `wrong_info`).
pub use crate::models::AnnotationItemAnnotationType as AnnotationType;

/// One flagged issue on one side of one turn.
///
/// ```
/// use polyai_data::annotations::{Annotation, AnnotationType, Role};
///
/// let a = Annotation::new(3, Role::User, AnnotationType::WrongTranscript);
/// assert_eq!(a.turn_id(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotation {
    turn_id: i64,
    role: Role,
    kind: AnnotationType,
}

impl Annotation {
    /// An annotation of `turn_id` (the API documents a zero-based turn index).
    pub fn new(turn_id: i64, role: Role, kind: AnnotationType) -> Self {
        Annotation {
            turn_id,
            role,
            kind,
        }
    }

    /// The turn.
    pub fn turn_id(&self) -> i64 {
        self.turn_id
    }

    /// The side of the turn.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The issue type.
    pub fn kind(&self) -> AnnotationType {
        self.kind
    }
}

impl From<Annotation> for AnnotationItem {
    fn from(a: Annotation) -> Self {
        AnnotationItem {
            turn_id: a.turn_id,
            role: a.role,
            annotation_type: a.kind,
        }
    }
}

/// Adds annotations; from [`Agent::annotate`]. Await it.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// use polyai_data::annotations::{Annotation, AnnotationType, Role};
/// agent
///     .annotate("CA1", [Annotation::new(0, Role::User, AnnotationType::MissingTopic)])
///     .no_retry()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "await it to send the request"]
#[derive(Debug, Clone)]
pub struct AddAnnotations {
    pub(crate) agent: Agent,
    pub(crate) conversation_id: String,
    pub(crate) annotations: Vec<Annotation>,
    pub(crate) options: CallOptions,
}

impl AddAnnotations {
    /// Sends the request (what awaiting the builder does). Fails with
    /// [`Error::InvalidRequest`] before sending when the list is empty.
    pub async fn send(self) -> Result<(), Error> {
        self.send_with_meta().await.map(|((), _)| ())
    }

    /// Like [`send`](Self::send), and returns the response's status, correlation id and
    /// headers.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// use polyai_data::annotations::{Annotation, AnnotationType, Role};
    /// let ((), meta) = agent
    ///     .annotate("CA1", [Annotation::new(2, Role::Agent, AnnotationType::WrongInfo)])
    ///     .send_with_meta()
    ///     .await?;
    /// println!("annotated ({}), correlation id {}", meta.status(), meta.correlation_id());
    /// # Ok(()) }
    /// ```
    pub async fn send_with_meta(self) -> Result<((), ResponseMeta), Error> {
        if self.annotations.is_empty() {
            return Err(Error::InvalidRequest(
                "add_annotations needs at least one annotation".into(),
            ));
        }
        let body = AddAnnotationsBody {
            annotations: self.annotations.into_iter().map(Into::into).collect(),
        };
        let exchange = self
            .agent
            .conversation_call(&self.conversation_id, &self.options)?;
        let request = exchange.build(async |spec| {
            spec.add_annotations(
                &self.agent.agent_id,
                &self.conversation_id,
                Some(exchange.correlation_id()),
                &body,
            )
            .await
        })?;
        exchange.ack(request).await.map(|meta| ((), meta))
    }
}

crate::options::request_options!(AddAnnotations => ());
