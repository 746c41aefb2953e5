// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The stake token as seen by the staking contract, its only minter.
interface IStakeToken is IERC20 {
    /// @notice Mints `amount` to `to`. Only the minter may call it.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
