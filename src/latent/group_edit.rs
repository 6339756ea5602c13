//! Head-group edits: what a recipe asks of one head group of one attention layer — scale its
//! output, or run it with another dilation or kernel size. Parsed from
//! `STAGE[.BLOCK]:GROUP:scale=S` (also `dilation=D`, `kernel=K`); the model checks them against
//! its architecture when it resolves them (`model::head_edits`).

use serde::{Deserialize, Serialize};

/// What happens to the group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOp {
    /// Multiply the group's share of the attention output (its heads' channels, before the
    /// output projection) by this factor: 0 ablates the group, 1 is no edit.
    Scale(f32),
    /// Run the group with this dilation (same weights).
    Dilation(usize),
    /// Run the group with this kernel size (same weights; the bias table is zero-padded or
    /// centre-cropped to `2k − 1`).
    Kernel(usize),
}

impl GroupOp {
    /// Ops of the same kind replace each other; different kinds combine.
    pub fn same_kind(&self, other: &GroupOp) -> bool {
        self.kind() == other.kind()
    }

    /// Scale, dilation, kernel: the order edits are listed in.
    fn kind(&self) -> u8 {
        match self {
            Self::Scale(_) => 0,
            Self::Dilation(_) => 1,
            Self::Kernel(_) => 2,
        }
    }
}

/// One edit of head group `group` in stage `stage` (0 = the 4×4 stage), in one block or (with
/// `block: None`) both blocks of the stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupEdit {
    pub stage: usize,
    pub block: Option<usize>,
    pub group: usize,
    pub op: GroupOp,
}

impl GroupEdit {
    /// Whether this edit applies to block `block` of stage `stage`.
    pub fn addresses(&self, stage: usize, block: usize) -> bool {
        self.stage == stage && self.block.is_none_or(|b| b == block)
    }
}

impl std::str::FromStr for GroupEdit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not STAGE[.BLOCK]:GROUP:OP=VALUE with OP scale, dilation or \
                 kernel, e.g. 3:1:scale=0 or 2.0:0:dilation=2"
            )
        };
        let [at, group, op] = text.split(':').collect::<Vec<_>>()[..] else {
            return Err(bad());
        };
        let (stage, block) = match at.split_once('.') {
            Some((s, b)) => (s, Some(b.parse::<usize>().map_err(|_| bad())?)),
            None => (at, None),
        };
        if block.is_some_and(|b| b > 1) {
            return Err(format!("`{text}`: a stage has blocks 0 and 1"));
        }
        let (name, value) = op.split_once('=').ok_or_else(bad)?;
        let count = |v: &str| match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{text}`: {name} must be a whole number ≥ 1")),
        };
        let op = match name {
            "scale" => match value.parse::<f32>() {
                Ok(s) if s.is_finite() => GroupOp::Scale(s),
                _ => return Err(format!("`{text}`: scale must be a finite number")),
            },
            "dilation" => GroupOp::Dilation(count(value)?),
            "kernel" => GroupOp::Kernel(count(value)?),
            _ => return Err(bad()),
        };
        Ok(Self {
            stage: stage.parse().map_err(|_| bad())?,
            block,
            group: group.parse().map_err(|_| bad())?,
            op,
        })
    }
}

impl std::fmt::Display for GroupEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.stage)?;
        if let Some(b) = self.block {
            write!(f, ".{b}")?;
        }
        match self.op {
            GroupOp::Scale(s) => write!(f, ":{}:scale={s}", self.group),
            GroupOp::Dilation(d) => write!(f, ":{}:dilation={d}", self.group),
            GroupOp::Kernel(k) => write!(f, ":{}:kernel={k}", self.group),
        }
    }
}

/// Sets `edit`, replacing an edit of the same kind at the same place; an op that is no edit
/// (`scale=1`, or `original` for a dilation or kernel) removes it instead.
pub fn set_group_edit(edits: &mut Vec<GroupEdit>, edit: GroupEdit, original: Option<usize>) {
    edits.retain(|e| {
        !(e.stage == edit.stage
            && e.block == edit.block
            && e.group == edit.group
            && e.op.same_kind(&edit.op))
    });
    let neutral = match edit.op {
        GroupOp::Scale(s) => s == 1.0,
        GroupOp::Dilation(v) | GroupOp::Kernel(v) => Some(v) == original,
    };
    if !neutral {
        edits.push(edit);
        edits.sort_by_key(|e| (e.stage, e.block, e.group, e.op.kind()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_parse_and_print() {
        let e: GroupEdit = "3:1:scale=0".parse().unwrap();
        assert_eq!(
            e,
            GroupEdit {
                stage: 3,
                block: None,
                group: 1,
                op: GroupOp::Scale(0.0)
            }
        );
        assert_eq!(e.to_string(), "3:1:scale=0");
        let e: GroupEdit = "2.1:0:dilation=4".parse().unwrap();
        assert_eq!((e.block, e.op), (Some(1), GroupOp::Dilation(4)));
        assert_eq!(e.to_string(), "2.1:0:dilation=4");
        assert!(e.addresses(2, 1) && !e.addresses(2, 0) && !e.addresses(3, 1));
        assert_eq!(
            "4:2:kernel=5".parse::<GroupEdit>().unwrap().op,
            GroupOp::Kernel(5)
        );
        for bad in [
            "3:1",
            "3:1:scale",
            "3:1:gain=2",
            "3.2:0:scale=1",
            "x:0:scale=1",
            "3:0:dilation=0",
            "3:0:kernel=-1",
            "3:0:scale=nan",
        ] {
            assert!(bad.parse::<GroupEdit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn setting_replaces_same_kind_and_neutral_removes() {
        let mut edits = Vec::new();
        let at = |op| GroupEdit {
            stage: 1,
            block: None,
            group: 0,
            op,
        };
        set_group_edit(&mut edits, at(GroupOp::Scale(0.5)), None);
        set_group_edit(&mut edits, at(GroupOp::Dilation(2)), Some(1));
        set_group_edit(&mut edits, at(GroupOp::Scale(0.0)), None);
        assert_eq!(
            edits,
            vec![at(GroupOp::Scale(0.0)), at(GroupOp::Dilation(2))]
        );
        set_group_edit(&mut edits, at(GroupOp::Scale(1.0)), None);
        set_group_edit(&mut edits, at(GroupOp::Dilation(1)), Some(1));
        assert!(edits.is_empty());
    }
}
