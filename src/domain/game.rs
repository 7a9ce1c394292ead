//! Games the market sells.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Game {
    Cs2,
    Dota2,
    Rust,
}

impl Game {
    pub const ALL: [Game; 3] = [Game::Cs2, Game::Dota2, Game::Rust];

    /// The value of the API's `game` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Game::Cs2 => "cs2",
            Game::Dota2 => "dota2",
            Game::Rust => "rust",
        }
    }
}

impl FromStr for Game {
    type Err = UnknownGame;
    /// Accepts the API's values and `csgo`, the older name of `cs2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cs2" | "csgo" => Ok(Game::Cs2),
            "dota2" => Ok(Game::Dota2),
            "rust" => Ok(Game::Rust),
            _ => Err(UnknownGame(s.to_string())),
        }
    }
}

impl TryFrom<String> for Game {
    type Error = UnknownGame;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Game> for String {
    fn from(g: Game) -> String {
        g.as_str().to_string()
    }
}

impl fmt::Display for Game {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a game (expected cs2, dota2 or rust)")]
pub struct UnknownGame(pub String);
