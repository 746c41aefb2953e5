//! The broadcaster's funds commands: deposit and reserve in the TicketBroker.

use clap::Subcommand;
use livepeer_core::AddressExt;
use livepeer_core::chain::{TicketBrokerReader, TicketFunding};

use livepeer_core::Address;

use crate::rpc::parse_amount;

/// Manage the deposit and reserve that pay for streams.
#[derive(Debug, Subcommand)]
pub enum FundsCommand {
    /// Add to the deposit (pays winning tickets) and the reserve (backs them when the
    /// deposit runs out). Amounts in wei, or e.g. 1eth.
    Fund {
        /// Added to the deposit.
        #[arg(long, default_value = "0")]
        deposit: String,
        /// Added to the reserve.
        #[arg(long, default_value = "0")]
        reserve: String,
    },
    /// Start the unlock period, after which the deposit and reserve can be withdrawn.
    Unlock,
    /// Cancel an unlock in progress.
    CancelUnlock,
    /// Withdraw the deposit and reserve after the unlock period.
    Withdraw,
    /// Show the deposit, reserve and unlock state.
    Status,
}

impl FundsCommand {
    /// Sends the command's transaction (if any) from `me` on `chain` (ours or, with the
    /// `livepeer` feature, Livepeer's deployed contracts), then prints the funds.
    #[allow(clippy::print_stdout)]
    pub async fn run<C>(&self, chain: &C, me: Address) -> anyhow::Result<()>
    where
        C: TicketFunding + TicketBrokerReader + ?Sized,
    {
        match self {
            FundsCommand::Fund { deposit, reserve } => {
                let (d, r) = (parse_amount(deposit)?, parse_amount(reserve)?);
                if d.is_zero() && r.is_zero() {
                    anyhow::bail!("give --deposit and/or --reserve");
                }
                chain.fund_deposit_and_reserve(d, r).await?;
                println!("funded: deposit +{} wei, reserve +{} wei", d.0, r.0);
            }
            FundsCommand::Unlock => {
                chain.unlock().await?;
                println!("unlock started");
            }
            FundsCommand::CancelUnlock => {
                chain.cancel_unlock().await?;
                println!("unlock cancelled");
            }
            FundsCommand::Withdraw => {
                chain.withdraw().await?;
                println!("deposit and reserve withdrawn");
            }
            FundsCommand::Status => {}
        }
        let info = chain.sender_info(me).await?;
        println!("address: {}", me.checksummed());
        println!("deposit: {} wei", info.deposit.0);
        println!("reserve: {} wei", info.reserve_remaining.0);
        println!("withdraw round: {}", info.withdraw_round);
        Ok(())
    }
}
