//! `skinbot sandbox`: placeholder until the sandbox module lands.

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {}

pub async fn run(_args: SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("the sandbox is not built yet")
}
