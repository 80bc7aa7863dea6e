//! The reports bucket: each audit report made over the API, kept under `reports/<id>.<ext>`
//! (encrypted by the bucket's default, the suite's data key), read back for an inline answer,
//! or handed out through a presigned link that reads that one object for a few minutes.

use super::{StoreError, store_error};
use crate::audit::ReportArchive;
use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

#[derive(Clone)]
pub struct S3ReportArchive {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ReportArchive {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        // Path-style where an endpoint is given (the local stack's moto on loopback, which has
        // no bucket subdomains); AWS's own endpoints keep virtual-hosted addressing.
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ReportArchive for S3ReportArchive {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_error("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(store_error("GetObject", e)),
        };
        let body = out.body.collect().await.map_err(|e| StoreError::Corrupt {
            what: format!("report {key}: {e}"),
        })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn link(&self, key: &str, valid_for: std::time::Duration) -> Result<String, StoreError> {
        let presigning =
            PresigningConfig::expires_in(valid_for).map_err(|e| StoreError::Corrupt {
                what: format!("presigning {key}: {e}"),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| store_error("GetObject (presigned)", e))?;
        Ok(request.uri().to_owned())
    }
}
