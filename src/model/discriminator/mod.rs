//! Discriminators: the one `stylenat train` trains ([`native`]) and the one official StyleNAT
//! checkpoints carry ([`official`]). Beside training, a discriminator is a feature extractor
//! that knows the model's images: [`Critic`] gives either's intermediate maps (projection's
//! perceptual term).

pub mod native;
pub mod official;
pub mod upfirdn;

use burn::tensor::Tensor;

/// A frozen discriminator used for its features.
#[derive(Debug, Clone)]
pub enum Critic {
    /// Trained by `stylenat train` (from a training state's `d.` tensors).
    Native(Box<native::Discriminator>),
    /// From an official checkpoint's `d`.
    Official(Box<official::OfficialDiscriminator>),
}

impl Critic {
    /// Intermediate maps of `x` (`[B, 3, S, S]`, the generator's output space), finest first,
    /// ending with the 4×4 map its head reads.
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Self::Native(d) => d.features(x),
            Self::Official(d) => d.features(x),
        }
    }

    /// Real/fake logits `[B]`.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<1> {
        match self {
            Self::Native(d) => d.forward(x),
            Self::Official(d) => d.forward(x),
        }
    }

    /// The image side it takes.
    pub fn size(&self) -> usize {
        match self {
            Self::Native(d) => 4 << d.blocks.len(),
            Self::Official(d) => d.size,
        }
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Native(_) => format!("discriminator from `stylenat train`, {} px", self.size()),
            Self::Official(d) => format!(
                "official StyleNAT discriminator ({}), {} px",
                if d.spectral_norm {
                    "spectral norm"
                } else {
                    "equalised lr"
                },
                d.size
            ),
        }
    }
}
