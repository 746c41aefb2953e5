// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IStakeToken} from "./interfaces/IStakeToken.sol";

/// @title StakeToken
/// @notice The ERC-20 that orchestrators and delegators bond. New tokens are minted only by the minter (the
/// BondingManager, for per-round rewards); anyone may burn their own tokens (slashing burns from the
/// BondingManager's balance).
contract StakeToken is ERC20, ERC20Burnable, IStakeToken {
    /// @notice The caller is not the deployer.
    error NotDeployer(address caller);
    /// @notice The caller is not the minter.
    error NotMinter(address caller);
    /// @notice The minter was already set.
    error MinterAlreadySet();
    /// @notice A zero address was given where an address is required.
    error ZeroAddress();

    /// @notice `minter` may now mint.
    event MinterSet(address indexed minter);

    /// @notice Account that may set the minter, once.
    address public immutable deployer;
    /// @notice The only account that may mint.
    address public minter;

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param initialHolder Receives `initialSupply`.
    /// @param initialSupply Tokens minted at deployment.
    constructor(string memory name_, string memory symbol_, address initialHolder, uint256 initialSupply)
        ERC20(name_, symbol_)
    {
        if (initialHolder == address(0)) revert ZeroAddress();
        deployer = msg.sender;
        _mint(initialHolder, initialSupply);
    }

    /// @notice Sets the minter. Deployer only, once.
    function setMinter(address minter_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (minter != address(0)) revert MinterAlreadySet();
        if (minter_ == address(0)) revert ZeroAddress();
        minter = minter_;
        emit MinterSet(minter_);
    }

    /// @inheritdoc IStakeToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IStakeToken
    function burn(uint256 amount) public override(ERC20Burnable, IStakeToken) {
        super.burn(amount);
    }
}
