//! seglake's compute: arrays in, models out. No async, no DataFusion, no
//! object stores; everything here is deterministic for a given seed,
//! whatever the number of threads.
//!
//! - [`prepare`]: median imputation, quantile clipping, log, standardisation,
//!   fitted once and stored with the model; [`categories`]: categorical
//!   features (one-hot or frequency encoded) in the same preparation;
//! - [`kmeans`]: partition-parallel mini-batch k-means (k-means++ on a
//!   seeded sample, Sculley updates, full Lloyd passes to finish);
//! - [`segment`]: one segmentation (k fixed or chosen by silhouette, or
//!   linfa's DBSCAN / hierarchical clustering on a sample) with its metrics;
//! - [`gbdt`]: histogram gradient-boosted trees for binary risk labels,
//!   with exact TreeSHAP explanations and Platt calibration
//!   ([`calibration`]);
//! - [`metrics`]: silhouette, Davies-Bouldin, Calinski-Harabasz, adjusted
//!   Rand index, ROC AUC, average precision and log-loss, as scikit-learn
//!   defines them, and [`curves`] (ROC, precision-recall, reliability,
//!   score histograms) behind them;
//! - [`projection`]: two-component PCA for drawing customers;
//! - [`drift`]: the population stability index between two runs.

pub mod calibration;
pub mod categories;
pub mod curves;
pub mod drift;
mod error;
pub mod gbdt;
mod kernel;
pub mod kmeans;
pub mod metrics;
mod numeric;
pub mod prepare;
pub mod projection;
mod seeds;
pub mod segment;

pub use categories::{
    CategoricalColumn, CategoricalOptions, CategoricalStats, DEFAULT_MAX_LEVELS, Encoding, Level,
    MISSING_LEVEL, OTHER_LEVEL,
};
pub use error::{MlError, Result};
pub use gbdt::{ClassWeight, Fitted, Gbdt, GbdtParams, GbdtValidParams, TreeExplainer};
pub use kmeans::{Assignment, KMeans, KMeansParams, KMeansValidParams, assign_to};
pub use prepare::{FeatureStats, LogMode, Preparation, PrepareOptions};
pub use segment::{
    Algorithm, ClusterMetrics, KChoice, SegmentParams, Segmentation, TrainingInfo, segment,
};
