//! Principal component analysis down to two dimensions, for drawing
//! customers on a page: the covariance of the (already standardised)
//! features, its eigenvectors by cyclic Jacobi rotations (exact for the
//! symmetric matrices PCA makes, deterministic, no LAPACK), and each row's
//! coordinates on the two leading ones.

use ndarray::{Array2, ArrayView2, Axis};

/// Two principal components and the rows projected onto them.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Unit vectors, one per component, in feature order. The sign is
    /// fixed so that each vector's largest-magnitude entry is positive.
    pub components: [Vec<f64>; 2],
    /// The share of the total variance each component explains.
    pub explained_variance_ratio: [f64; 2],
    /// Each row's (first, second) coordinate, in row order.
    pub points: Vec<[f64; 2]>,
}

/// Projects the rows of `x` (rows = customers) onto its two leading
/// principal components. Fewer than two features or two rows: `None`.
pub fn pca_2d(x: ArrayView2<f32>) -> Option<Projection> {
    let (n, d) = x.dim();
    if n < 2 || d < 2 {
        return None;
    }
    let x = x.mapv(f64::from);
    let mean = x.mean_axis(Axis(0)).expect("at least one row");
    let centred = &x - &mean;
    let covariance = centred.t().dot(&centred) / (n - 1) as f64;
    let (values, vectors) = symmetric_eigen(covariance);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let component = |i: usize| signed(vectors.column(order[i]).to_vec());
    let components = [component(0), component(1)];
    let points = centred
        .rows()
        .into_iter()
        .map(|row| {
            let on = |c: &Vec<f64>| row.iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
            [on(&components[0]), on(&components[1])]
        })
        .collect();
    let ratio = |i: usize| {
        if total > 0.0 {
            values[order[i]].max(0.0) / total
        } else {
            0.0
        }
    };
    Some(Projection {
        components,
        explained_variance_ratio: [ratio(0), ratio(1)],
        points,
    })
}

/// A vector with its largest-magnitude entry made positive: eigenvectors
/// are defined up to sign, and a page should not flip between runs.
fn signed(mut v: Vec<f64>) -> Vec<f64> {
    let largest = v
        .iter()
        .copied()
        .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if largest < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    v
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic
/// Jacobi sweeps until the off-diagonal mass is negligible.
fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::<f64>::eye(d);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| (0..d).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[[p, q]] * a[[p, q]])
            .sum();
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                rotate(&mut a, &mut v, p, q);
            }
        }
    }
    ((0..d).map(|i| a[[i, i]]).collect(), v)
}

/// One Jacobi rotation zeroing a[p][q] (Golub & Van Loan, 8.5.2).
fn rotate(a: &mut Array2<f64>, v: &mut Array2<f64>, p: usize, q: usize) {
    let apq = a[[p, q]];
    if apq == 0.0 {
        return;
    }
    let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    let d = a.nrows();
    for k in 0..d {
        let (akp, akq) = (a[[k, p]], a[[k, q]]);
        a[[k, p]] = c * akp - s * akq;
        a[[k, q]] = s * akp + c * akq;
    }
    for k in 0..d {
        let (apk, aqk) = (a[[p, k]], a[[q, k]]);
        a[[p, k]] = c * apk - s * aqk;
        a[[q, k]] = s * apk + c * aqk;
    }
    for k in 0..d {
        let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
        v[[k, p]] = c * vkp - s * vkq;
        v[[k, q]] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Points along (1, 2) with a small spread across it: the first
    /// component is (1, 2)/sqrt(5) and explains almost all the variance.
    #[test]
    fn leading_direction_by_hand() {
        let rows: Vec<[f32; 2]> = (-10..=10)
            .map(|i| {
                let t = i as f32;
                let wobble = if i % 2 == 0 { 0.1 } else { -0.1 };
                [t - 2.0 * wobble, 2.0 * t + wobble]
            })
            .collect();
        let x = Array2::from_shape_vec((rows.len(), 2), rows.concat()).unwrap();
        let p = pca_2d(x.view()).unwrap();
        let s5 = 5f64.sqrt();
        assert!(
            (p.components[0][0] - 1.0 / s5).abs() < 1e-6,
            "{:?}",
            p.components
        );
        assert!((p.components[0][1] - 2.0 / s5).abs() < 1e-6);
        assert!(p.explained_variance_ratio[0] > 0.999);
        // Coordinates are centred: they average to the origin.
        let mean = |c: usize| p.points.iter().map(|q| q[c]).sum::<f64>() / p.points.len() as f64;
        assert!(mean(0).abs() < 1e-9 && mean(1).abs() < 1e-9);
    }

    /// A diagonal covariance: the components are the axes, in order of
    /// variance, and the ratios are the variances over their sum.
    #[test]
    fn axis_aligned_variances() {
        let x = array![
            [0.0f32, 3.0, 1.0],
            [0.0, -3.0, -1.0],
            [2.0, 0.0, 0.0],
            [-2.0, 0.0, 0.0],
        ];
        let p = pca_2d(x.view()).unwrap();
        // Variances (n-1 = 3): x0 8/3, x1 18/3, x2 2/3, but x1 and x2 move
        // together: their block has eigenvalues 20/3 and 0.
        let total = 8.0 / 3.0 + 18.0 / 3.0 + 2.0 / 3.0;
        assert!((p.explained_variance_ratio[0] - (20.0 / 3.0) / total).abs() < 1e-9);
        assert!((p.explained_variance_ratio[1] - (8.0 / 3.0) / total).abs() < 1e-9);
        let c0 = &p.components[0];
        assert!((c0[1] - 3.0 / 10f64.sqrt()).abs() < 1e-9 && c0[0].abs() < 1e-9);
        assert!((p.components[1][0] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn too_little_data_has_no_projection() {
        assert!(pca_2d(array![[1.0f32, 2.0]].view()).is_none());
        assert!(pca_2d(array![[1.0f32], [2.0]].view()).is_none());
    }
}
