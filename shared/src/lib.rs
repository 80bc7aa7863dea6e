//! FBM fulfillment suite: domain, ports, adapters.
