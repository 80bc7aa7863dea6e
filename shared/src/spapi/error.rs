//! How one SP-API call failed, at the transport: HTTP statuses and what the layers found.
//! Each API module maps these into its capability's own error (`orders::AmazonError`, ...).

use crate::kernel::StoreError;
use crate::sellers::{CredentialsError, LoginFailure};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// 401, or 403 again with a fresh access token.
    #[error("access denied (HTTP {status}, {code})")]
    Denied { status: u16, code: String },
    #[error("throttled (HTTP 429) after {attempts} attempts")]
    Throttled { attempts: u32 },
    #[error("server error HTTP {status} after {attempts} attempts")]
    Server { status: u16, attempts: u32 },
    #[error("transport failure after {attempts} attempts: {message}")]
    Transport { message: String, attempts: u32 },
    #[error("not found")]
    NotFound,
    /// Any other 4xx: the request itself is refused.
    #[error("rejected HTTP {status} {code}: {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// A 2xx whose body does not read as the model says (names fields, never values).
    #[error("response does not match the model: {reason}")]
    Decode { reason: String },
    #[error("LWA access token: {0:?}")]
    Login(LoginFailure),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The shared rate budget has no place within the wait the function may sleep out.
    #[error("rate budget full for {retry_after_ms} ms")]
    BudgetExhausted {
        retry_after_ms: u64,
        reserved_at: Option<DateTime<Utc>>,
    },
    #[error("rate budget unreadable: {0}")]
    Budget(StoreError),
}

impl CallError {
    /// Worth another attempt after a pause (the retry layer's rule).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CallError::Throttled { .. }
                | CallError::Server { .. }
                | CallError::Transport { .. }
                | CallError::Decode { .. }
        )
    }

    /// Short machine-readable kind for the retry log.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Denied { .. } => "unauthorized",
            CallError::Throttled { .. } => "throttled",
            CallError::Server { .. } => "server_error",
            CallError::Transport { .. } => "transport",
            CallError::NotFound => "not_found",
            CallError::Rejected { .. } => "rejected",
            CallError::Decode { .. } => "decode",
            CallError::Login(_) => "lwa",
            CallError::Credentials(_) => "credentials",
            CallError::BudgetExhausted { .. } => "budget_exhausted",
            CallError::Budget(_) => "budget_store",
        }
    }

    /// The count of attempts the retry layer made, once it gives up.
    pub(super) fn with_attempts(self, attempts: u32) -> Self {
        match self {
            CallError::Throttled { .. } => CallError::Throttled { attempts },
            CallError::Server { status, .. } => CallError::Server { status, attempts },
            CallError::Transport { message, .. } => CallError::Transport { message, attempts },
            other => other,
        }
    }
}
