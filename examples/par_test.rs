use rayon::prelude::*;
fn main() {
    let t = std::time::Instant::now();
    let s: f64 = (0..200_000_000u64).into_par_iter().map(|i| (i as f64).sqrt()).sum();
    println!("{s} {:?} threads {}", t.elapsed(), rayon::current_num_threads());
}
