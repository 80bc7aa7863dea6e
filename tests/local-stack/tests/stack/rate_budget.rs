//! The shared rate budget on DynamoDB (moto): concurrent workers, each with its own client as
//! separate Lambda instances would have, never together take more than rate and burst allow.
//! Time is a test clock, so the counts are exact.

use crate::common::stack;
use chrono::{Duration, SubsecRound, Utc};
use shared::aws::DynamoRateBudget;
use shared::kernel::ManualClock;
use shared::rate::RateBudget;
use shared::rate::UsagePlan;
use spapi_sim::SimConfig;
use std::sync::Arc;

const GET_ORDER: UsagePlan = UsagePlan {
    rate_per_second: 0.5,
    burst: 30,
};

/// Four workers take tokens for `seller` until each is told to wait; the tokens granted in all.
async fn drain(workers: &[Arc<DynamoRateBudget>], seller: &shared::kernel::SellerId) -> usize {
    let tasks: Vec<_> = workers
        .iter()
        .cloned()
        .map(|w| {
            let seller = seller.clone();
            tokio::spawn(async move {
                let mut granted = 0;
                while w
                    .take(&seller, "getOrder", GET_ORDER)
                    .await
                    .unwrap()
                    .is_none()
                {
                    granted += 1;
                }
                granted
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}

#[tokio::test]
async fn four_concurrent_workers_together_stay_within_rate_and_burst() {
    let t = stack("budget", SimConfig::demo(2, 1, 21)).await;
    // Whole seconds: the bucket stores milliseconds.
    let clock = Arc::new(ManualClock::at(Utc::now().trunc_subsecs(0)));
    let workers: Vec<Arc<DynamoRateBudget>> = (0..4)
        .map(|_| {
            Arc::new(DynamoRateBudget::new(
                aws_sdk_dynamodb::Client::new(&t.sdk),
                t.stack.table("control"),
                clock.clone(),
            ))
        })
        .collect();
    let seller = t.seller(0);

    // A fresh bucket is full: exactly the burst, however the four race for it.
    assert_eq!(drain(&workers, &seller).await, 30);
    let wait = workers[0]
        .take(&seller, "getOrder", GET_ORDER)
        .await
        .unwrap()
        .expect("empty bucket");
    assert_eq!(wait, std::time::Duration::from_secs(2));

    // Ten seconds at 0.5 per second: five more, not one more.
    clock.advance(Duration::seconds(10));
    assert_eq!(drain(&workers, &seller).await, 5);

    // Another seller has a bucket of its own.
    assert_eq!(drain(&workers, &t.seller(1)).await, 30);

    // Amazon reports a higher rate for this seller: every worker refills at it.
    workers[3]
        .record_reported_rate(&seller, "getOrder", 2.0)
        .await
        .unwrap();
    clock.advance(Duration::seconds(10));
    assert_eq!(drain(&workers, &seller).await, 20);
}
