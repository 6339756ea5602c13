//! The one description of "which image": source latent (seed lattice or a W+), truncation,
//! mixing, nudge, direction edits and head-group edits. The CLI parses its flags into it, the explorer edits it,
//! sessions and PNG provenance store it; `compose` (one function) turns it into W+.

use super::group_edit::GroupEdit;
use super::seeds::SeedMode;
use super::wspace::parse_layer_list;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Seeds of the 2-D seed lattice: moving one step down adds this to the seed.
pub const LATTICE_ROW: u64 = 1000;

/// Everything that determines one image's W+ (given a model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Recipe {
    pub seed: u64,
    pub seed_mode: SeedMode,
    /// Fractional position in the seed lattice, each in [0, 1): W is the bilinear blend of
    /// `seed`, `seed + 1`, `seed + LATTICE_ROW` and `seed + LATTICE_ROW + 1`.
    pub drift: [f32; 2],
    /// A W+ loaded from a file replaces the seed as source A.
    pub custom: Option<CustomLatent>,
    /// Truncation ψ (1 = none): w' = centre + ψ (w − centre).
    pub psi: f32,
    /// Truncate only W+ layers below this index (`None`: all); at most the model's layers.
    pub trunc_cutoff: Option<usize>,
    /// Truncation centre (`[w_dim]`); `None`: the model's mean latent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trunc_mean: Option<Vec<f32>>,
    /// Source B of style mixing.
    pub mix_seed: u64,
    /// W+ layers taken from `mix_seed` (empty: no mixing).
    pub mix_layers: Vec<usize>,
    /// A step along a random direction in W, after truncation.
    pub nudge: Nudge,
    /// Steps along direction components (PCA, SeFa or files), after truncation and the nudge,
    /// before mixing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<DirectionEdit>,
    /// What each edited head group runs with (not part of W+: the generator applies them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_edits: Vec<GroupEdit>,
}

impl Default for Recipe {
    fn default() -> Self {
        Self {
            seed: 0,
            seed_mode: SeedMode::Stylenat,
            drift: [0.0; 2],
            custom: None,
            psi: 1.0,
            trunc_cutoff: None,
            trunc_mean: None,
            mix_seed: 1,
            mix_layers: Vec::new(),
            nudge: Nudge::default(),
            edits: Vec::new(),
            group_edits: Vec::new(),
        }
    }
}

impl Recipe {
    /// This recipe for another seed (at a lattice point).
    pub fn with_seed(&self, seed: u64) -> Self {
        Self {
            seed,
            drift: [0.0; 2],
            custom: None,
            ..self.clone()
        }
    }

    /// This recipe with a W+ (`[num_ws, w_dim]`, row-major) as source A.
    pub fn with_latent(&self, name: String, num_ws: usize, wplus: Vec<f32>) -> Self {
        Self {
            custom: Some(CustomLatent {
                name,
                num_ws,
                wplus,
            }),
            ..self.clone()
        }
    }

    /// Whether mixing takes any layer from source B.
    pub fn mixes(&self) -> bool {
        !self.mix_layers.is_empty()
    }

    /// Moves through the seed lattice by `(dx, dy)` lattice steps, carrying whole steps into the
    /// seed (seeds stay within `0..=u32::MAX`).
    pub fn move_in_lattice(&mut self, dx: f32, dy: f32) {
        let max = u32::MAX as i64;
        let (mut x, mut y) = (
            (self.seed % LATTICE_ROW) as f64 + self.drift[0] as f64 + dx as f64,
            (self.seed / LATTICE_ROW) as f64 + self.drift[1] as f64 + dy as f64,
        );
        x = x.clamp(0.0, (LATTICE_ROW - 1) as f64 - 1e-3);
        y = y.clamp(0.0, (max / LATTICE_ROW as i64) as f64 - 1.0);
        self.seed = y.floor() as u64 * LATTICE_ROW + x.floor() as u64;
        self.drift = [x.fract() as f32, y.fract() as f32];
    }

    /// The amount of component `k` of `source` (0 when there is no such edit).
    pub fn edit_amount(&self, source: &DirectionSource, k: usize) -> f32 {
        self.edits
            .iter()
            .find(|e| &e.source == source && e.component == k)
            .map_or(0.0, |e| e.amount)
    }

    /// Sets component `k`'s amount on `layers`; an amount of 0 removes the edit.
    pub fn set_edit(&mut self, source: &DirectionSource, k: usize, amount: f32, layers: &[usize]) {
        self.edits
            .retain(|e| !(&e.source == source && e.component == k));
        if amount != 0.0 {
            self.edits.push(DirectionEdit {
                source: source.clone(),
                component: k,
                amount,
                layers: Some(layers.to_vec()),
            });
            self.edits.sort_by_key(|e| e.component);
        }
    }
}

/// A W+ from a file: `[num_ws, w_dim]` values, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomLatent {
    pub name: String,
    pub num_ws: usize,
    pub wplus: Vec<f32>,
}

/// A step of `amount` (in units of the typical ‖w − w̄‖/√w_dim spread, i.e. per-coordinate σ)
/// along a random unit direction chosen by `direction_seed`, on W+ layers `first..=last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Nudge {
    pub direction_seed: u64,
    pub amount: f32,
    pub first: usize,
    pub last: usize,
}

impl Default for Nudge {
    fn default() -> Self {
        Self {
            direction_seed: 1,
            amount: 0.0,
            first: 0,
            last: usize::MAX,
        }
    }
}

/// Where a set of directions comes from; both are reproducible from the recipe alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirectionSource {
    /// A `.npz`/`.npy` file (`stylenat directions`, InterFaceGAN boundaries).
    File(PathBuf),
    /// The model's PCA of W over `samples` seeded samples, `components` kept.
    Pca { samples: usize, components: usize },
    /// The model's SeFa directions of W+ `layers` (closed form), `components` kept.
    Sefa {
        layers: Vec<usize>,
        components: usize,
    },
}

impl std::fmt::Display for DirectionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => {
                let name = path.file_name().map(|n| n.to_string_lossy());
                write!(f, "{}", name.unwrap_or_default())
            }
            Self::Pca { samples, .. } => write!(f, "pca{samples}"),
            Self::Sefa { layers, .. } => write!(f, "sefa{}", format_layer_list(layers)),
        }
    }
}

/// `amount` σ along component `component` of `source`, on `layers` (`None`: every layer).
/// Parsed from `FILE:COMPONENT:AMOUNT[:LAYERS]`, e.g. `dirs.npz:3:+2.0:0-6`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionEdit {
    pub source: DirectionSource,
    pub component: usize,
    pub amount: f32,
    pub layers: Option<Vec<usize>>,
}

impl std::str::FromStr for DirectionEdit {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad =
            || format!("`{text}` is not FILE:COMPONENT:AMOUNT[:LAYERS], e.g. dirs.npz:3:+2.0:0-6");
        // The file name may itself contain ':'; the numbers are the last fields.
        let parts: Vec<&str> = text.rsplitn(4, ':').collect();
        let (file, component, amount, layers) = match parts[..] {
            [l, a, c, f] if c.parse::<usize>().is_ok() => (f, c, a, Some(l)),
            [a, c, f, ..] => (f, c, a, None),
            _ => return Err(bad()),
        };
        let file = match (parts.len(), layers) {
            (4, None) => format!("{}:{file}", parts[3]),
            _ => file.to_string(),
        };
        // Layer indices are checked against the model when the recipe is composed.
        let layers = layers
            .map(|l| parse_layer_list(l, usize::MAX).map_err(|e| e.to_string()))
            .transpose()?;
        Ok(Self {
            source: DirectionSource::File(file.into()),
            component: component.parse().map_err(|_| bad())?,
            amount: amount.trim_start_matches('+').parse().map_err(|_| bad())?,
            layers,
        })
    }
}

impl std::fmt::Display for DirectionEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{:+}", self.source, self.component, self.amount)?;
        match &self.layers {
            Some(l) => write!(f, ":{}", format_layer_list(l)),
            None => Ok(()),
        }
    }
}

/// Sorted layer indices as ranges, e.g. `0-5,8` (what [`parse_layer_list`] reads).
pub fn format_layer_list(layers: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let mut j = i;
        while j + 1 < layers.len() && layers[j + 1] == layers[j] + 1 {
            j += 1;
        }
        parts.push(match j > i {
            true => format!("{}-{}", layers[i], layers[j]),
            false => layers[i].to_string(),
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_parse_and_print() {
        let e: DirectionEdit = "dirs.npz:3:+2.0:0-6".parse().unwrap();
        assert_eq!(e.source, DirectionSource::File("dirs.npz".into()));
        assert_eq!((e.component, e.amount), (3, 2.0));
        assert_eq!(e.layers, Some((0..=6).collect()));
        assert_eq!(e.to_string(), "dirs.npz:3:+2:0-6");
        let e: DirectionEdit = "a/b.npy:0:-1.5".parse().unwrap();
        assert_eq!((e.component, e.amount, e.layers), (0, -1.5, None));
        assert!("dirs.npz".parse::<DirectionEdit>().is_err());
        assert!("dirs.npz:x:1".parse::<DirectionEdit>().is_err());
        assert_eq!(format_layer_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    #[test]
    fn edit_amounts_set_and_clear() {
        let pca = DirectionSource::Pca {
            samples: 10,
            components: 4,
        };
        let mut r = Recipe::default();
        r.set_edit(&pca, 2, 1.5, &[0, 1]);
        r.set_edit(&pca, 0, -1.0, &[0, 1]);
        assert_eq!((r.edit_amount(&pca, 2), r.edit_amount(&pca, 1)), (1.5, 0.0));
        assert_eq!(r.edits[0].component, 0);
        r.set_edit(&pca, 2, 0.0, &[0, 1]);
        assert_eq!(r.edits.len(), 1);
    }
}
