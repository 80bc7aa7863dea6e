//! Secrets Manager: the app's LWA client credentials (one secret) and each seller's refresh
//! token (one secret per seller, `<prefix><seller_id>`). Values never leave as text except
//! into the LWA token request.

use super::SecretsError;
use crate::domain::SellerId;
use crate::ports::{LwaAppCredentials, Secrets};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;
use serde::Deserialize;

pub struct SecretsManagerSecrets {
    client: Client,
    lwa_app_secret_id: String,
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

impl SecretsManagerSecrets {
    pub fn new(
        client: Client,
        lwa_app_secret_id: impl Into<String>,
        seller_secret_prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            lwa_app_secret_id: lwa_app_secret_id.into(),
            seller_secret_prefix: seller_secret_prefix.into(),
        }
    }

    /// The secret id holding a seller's refresh token.
    pub fn seller_secret_id(&self, seller: &SellerId) -> String {
        format!("{}{seller}", self.seller_secret_prefix)
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        secret_id: &str,
        expected: &'static str,
    ) -> Result<T, SecretsError> {
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
                    SecretsError::NotFound {
                        secret_id: secret_id.to_owned(),
                    }
                } else {
                    SecretsError::Service {
                        secret_id: secret_id.to_owned(),
                        message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                    }
                }
            })?;
        let malformed = || SecretsError::Malformed {
            secret_id: secret_id.to_owned(),
            expected,
        };
        // The parser's own message could quote the value: report only which secret is wrong.
        let raw = zeroize::Zeroizing::new(out.secret_string.ok_or_else(malformed)?);
        serde_json::from_str(&raw).map_err(|_| malformed())
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn lwa_app(&self) -> Result<LwaAppCredentials, SecretsError> {
        let s: LwaAppSecret = self
            .json(&self.lwa_app_secret_id, "client_id, client_secret")
            .await?;
        Ok(LwaAppCredentials {
            client_id: s.client_id,
            client_secret: s.client_secret,
        })
    }

    async fn refresh_token(&self, seller: &SellerId) -> Result<SecretString, SecretsError> {
        let s: SellerSecret = self
            .json(&self.seller_secret_id(seller), "refresh_token")
            .await?;
        Ok(s.refresh_token)
    }

    async fn delete_refresh_token(&self, seller: &SellerId) -> Result<bool, SecretsError> {
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
            Err(e) => Err(SecretsError::Service {
                secret_id,
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            }),
        }
    }
}
