//! seglake's compute: arrays in, models out. No async, no DataFusion, no
//! object stores; everything here is deterministic for a given seed,
//! whatever the number of threads.
//!
//! - [`prepare`]: median imputation, quantile clipping, log, standardisation,
//!   fitted once and stored with the model;
//! - [`kmeans`]: partition-parallel mini-batch k-means (k-means++ on a
//!   seeded sample, Sculley updates, full Lloyd passes to finish);
//! - [`segment`]: one segmentation (k fixed or chosen by silhouette, or
//!   linfa's DBSCAN / hierarchical clustering on a sample) with its metrics;
//! - [`metrics`]: silhouette, Davies-Bouldin, Calinski-Harabasz, adjusted
//!   Rand index, as scikit-learn defines them.

mod error;
mod kernel;
pub mod kmeans;
pub mod metrics;
pub mod prepare;
mod seeds;
pub mod segment;

pub use error::{MlError, Result};
pub use kmeans::{Assignment, KMeans, KMeansParams, KMeansValidParams, assign_to};
pub use prepare::{FeatureStats, LogMode, Preparation, PrepareOptions};
pub use segment::{
    Algorithm, ClusterMetrics, KChoice, SegmentParams, Segmentation, TrainingInfo, segment,
};
