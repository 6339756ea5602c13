//! Undo/redo of latent edits. A slider drag or an animation is one step: changes are committed
//! only once the pointer is released.

use crate::latent::recipe::Recipe;

const MAX_STEPS: usize = 200;

pub struct History {
    undo: Vec<Recipe>,
    redo: Vec<Recipe>,
    committed: Recipe,
}

impl History {
    pub fn new(current: &Recipe) -> Self {
        Self {
            undo: Vec::new(),
            redo: Vec::new(),
            committed: current.clone(),
        }
    }

    /// Records `current` as a new step unless it is unchanged or still `settling` (being
    /// dragged or animated).
    pub fn observe(&mut self, current: &Recipe, settling: bool) {
        if settling || *current == self.committed {
            return;
        }
        let previous = std::mem::replace(&mut self.committed, current.clone());
        self.undo.push(previous);
        if self.undo.len() > MAX_STEPS {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self, current: &mut Recipe) {
        // An uncommitted change is undone first.
        self.observe(current, false);
        if let Some(prev) = self.undo.pop() {
            self.redo
                .push(std::mem::replace(&mut self.committed, prev.clone()));
            *current = prev;
        }
    }

    pub fn redo(&mut self, current: &mut Recipe) {
        if let Some(next) = self.redo.pop() {
            self.undo
                .push(std::mem::replace(&mut self.committed, next.clone()));
            *current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drags_are_one_step_and_redo_is_cleared_by_new_edits() {
        let mut a = Recipe::default();
        let mut h = History::new(&a);
        for psi in [0.9, 0.8, 0.7] {
            a.psi = psi;
            h.observe(&a, true); // dragging
        }
        h.observe(&a, false); // released
        a.seed = 5;
        h.observe(&a, false);
        h.undo(&mut a);
        assert_eq!((a.seed, a.psi), (0, 0.7));
        h.undo(&mut a);
        assert_eq!((a.seed, a.psi), (0, 1.0));
        assert!(!h.can_undo());
        h.redo(&mut a);
        assert_eq!(a.psi, 0.7);
        a.seed = 9;
        h.observe(&a, false);
        assert!(!h.can_redo());
    }
}
