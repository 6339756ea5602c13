//! Seeds → z, bit for bit against torch.randn and numpy RandomState.randn.

mod common;
use common::*;
use stylenat::latent::{SeedMode, z_from_seed};

fn check(mode: SeedMode, prefix: &str) {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("seeds/seeds.json")).unwrap())
            .unwrap();
    let seeds: Vec<u64> = meta["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let mut compared = 0;
    for dim in [16, 32, 64, 512] {
        let want = npy(fixture(&format!("seeds/{prefix}_d{dim}.npy")));
        assert_eq!(want.shape, vec![seeds.len(), dim]);
        for (i, &s) in seeds.iter().enumerate() {
            let got = z_from_seed(s, dim, mode).unwrap();
            let row = &want.data[i * dim..(i + 1) * dim];
            let mismatches = got
                .iter()
                .zip(row)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                mismatches, 0,
                "{prefix} seed {s} dim {dim}: {mismatches} values differ (first: {} vs {})",
                got[0], row[0]
            );
            compared += dim;
        }
    }
    println!("{prefix}: {compared} values bit-identical");
}

#[test]
fn stylenat_convention_is_bit_exact() {
    check(SeedMode::Stylenat, "stylenat");
}

#[test]
fn nvlabs_convention_is_bit_exact() {
    check(SeedMode::Nvlabs, "nvlabs");
}
