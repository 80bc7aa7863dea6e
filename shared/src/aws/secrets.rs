//! Secrets Manager: the app's LWA client credentials (one secret) and each seller's refresh
//! token (one secret per seller, `<prefix><seller_id>`). Values never leave as text except
//! into the LWA token request.

use crate::kernel::SellerId;
use crate::sellers::CredentialsError;
use crate::sellers::{Credentials, LwaAppCredentials};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;
use serde::Deserialize;

pub struct SecretsManagerCredentials {
    client: Client,
    /// `None` for a function that never calls Amazon (the redactor deletes tokens only).
    lwa_app_secret_id: Option<String>,
    seller_secret_prefix: String,
}

#[derive(Deserialize)]
struct LwaAppSecret {
    client_id: String,
    client_secret: SecretString,
}

#[derive(Deserialize)]
struct SellerSecret {
    refresh_token: SecretString,
}

impl SecretsManagerCredentials {
    pub fn new(
        client: Client,
        lwa_app_secret_id: Option<String>,
        seller_secret_prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            lwa_app_secret_id,
            seller_secret_prefix: seller_secret_prefix.into(),
        }
    }

    /// The secret id holding a seller's refresh token.
    pub fn seller_secret_id(&self, seller: &SellerId) -> String {
        format!("{}{seller}", self.seller_secret_prefix)
    }

    fn failed<E>(
        operation: &'static str,
        secret_id: &str,
        e: aws_sdk_secretsmanager::error::SdkError<
            E,
            aws_sdk_secretsmanager::config::http::HttpResponse,
        >,
    ) -> CredentialsError
    where
        E: aws_sdk_secretsmanager::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        CredentialsError::Failed {
            secret_id: secret_id.to_owned(),
            io: super::io_failure(operation, e),
        }
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        secret_id: &str,
        expected: &'static str,
    ) -> Result<T, CredentialsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                {
                    CredentialsError::NotFound {
                        secret_id: secret_id.to_owned(),
                    }
                } else {
                    Self::failed("GetSecretValue", secret_id, e)
                }
            })?;
        let malformed = || CredentialsError::Malformed {
            secret_id: secret_id.to_owned(),
            expected,
        };
        // The parser's own message could quote the value: report only which secret is wrong.
        let raw = zeroize::Zeroizing::new(out.secret_string.ok_or_else(malformed)?);
        serde_json::from_str(&raw).map_err(|_| malformed())
    }
}

#[async_trait]
impl Credentials for SecretsManagerCredentials {
    async fn lwa_app(&self) -> Result<LwaAppCredentials, CredentialsError> {
        let secret_id = self
            .lwa_app_secret_id
            .as_deref()
            .ok_or(CredentialsError::NotConfigured { what: "LWA app" })?;
        let s: LwaAppSecret = self.json(secret_id, "client_id, client_secret").await?;
        Ok(LwaAppCredentials {
            client_id: s.client_id,
            client_secret: s.client_secret,
        })
    }

    async fn refresh_token(&self, seller: &SellerId) -> Result<SecretString, CredentialsError> {
        let s: SellerSecret = self
            .json(&self.seller_secret_id(seller), "refresh_token")
            .await?;
        Ok(s.refresh_token)
    }

    async fn delete_refresh_token(&self, seller: &SellerId) -> Result<bool, CredentialsError> {
        let secret_id = self.seller_secret_id(seller);
        match self
            .client
            .delete_secret()
            .secret_id(&secret_id)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(Self::failed("DeleteSecret", &secret_id, e)),
        }
    }
}
