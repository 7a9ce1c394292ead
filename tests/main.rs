//! The one integration-test binary: each module tests one part against a sandbox on port 0.

mod helpers;

mod exchange;
mod market_names;
