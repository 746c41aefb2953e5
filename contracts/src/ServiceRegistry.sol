// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IBondingManager} from "./interfaces/IBondingManager.sol";
import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";

/// @title ServiceRegistry
/// @notice Where orchestrators advertise how to reach them (a service URI), the services they offer (each
/// with the verifier contract that judges challenges of that service, zero when none) and the regions they
/// serve. No price: prices are negotiated off chain. Reward cut, fee share and stake live in the
/// BondingManager; the entry views join them in, so a broadcaster discovers candidates in one call.
///
/// Service ids and regions are short ASCII strings (at most 32 bytes, lowercase canonical form:
/// printable ASCII without capitals) left-aligned in a bytes32 and zero-padded, e.g. "transcode/gpu",
/// "h264 1080p -> 720p", "eu-west".
///
/// Verifier grace: when an orchestrator replaces or removes a service's verifier, the previous verifier
/// stays in force for `verifierGracePeriod` blocks (and keeps being extended by further changes within it),
/// so an orchestrator cannot escape a dispute over work it already did by switching verifiers.
///
/// Only orchestrators registered in the BondingManager may list or change an entry, and anyone may delete
/// the entry of an orchestrator that is no longer registered (`unlistUnregistered`): the list that
/// `getEntriesPage` walks then holds staked orchestrators only, and cannot be flooded with free entries that
/// push real ones to later pages. Registration, not activity, is the bar, so an orchestrator can list itself
/// in the round it registers, before it becomes active; the entry views report activity and stake.
contract ServiceRegistry is IServiceRegistry {
    /// @notice A service an orchestrator offers and the contract that verifies it.
    struct Service {
        bytes32 id;
        address verifier;
    }

    /// @notice Everything a broadcaster needs about one orchestrator.
    struct Entry {
        address orchestrator;
        bool listed;
        string serviceURI;
        Service[] services;
        bytes32[] regions;
        bool registered;
        bool active;
        uint256 stake;
        uint256 rewardCut;
        uint256 feeShare;
        uint256 lastRewardRound;
    }

    /// @notice A zero address was given where an address is required.
    error ZeroAddress();
    /// @notice The service id is zero or not canonical (see the contract doc).
    error InvalidServiceId(bytes32 id);
    /// @notice The region is zero or not canonical (see the contract doc).
    error InvalidRegion(bytes32 region);
    /// @notice The service id appears twice.
    error DuplicateServiceId(bytes32 id);
    /// @notice The region appears twice.
    error DuplicateRegion(bytes32 region);
    /// @notice More than `MAX_SERVICES` services.
    error TooManyServices(uint256 count);
    /// @notice More than `MAX_REGIONS` regions.
    error TooManyRegions(uint256 count);
    /// @notice The service URI is empty or longer than `MAX_URI_LENGTH` bytes.
    error InvalidURILength(uint256 length);
    /// @notice The orchestrator has no entry.
    error NotListed(address orchestrator);
    /// @notice The caller is not a registered orchestrator in the BondingManager.
    error NotRegistered(address orchestrator);
    /// @notice The orchestrator is still registered, so only it may delete its entry.
    error StillRegistered(address orchestrator);

    /// @notice `orchestrator` got an entry and was added to the list.
    event Listed(address indexed orchestrator);
    /// @notice `orchestrator`'s entry was deleted.
    event Unlisted(address indexed orchestrator);
    /// @notice `orchestrator`'s service URI is now `serviceURI`.
    event ServiceURIUpdated(address indexed orchestrator, string serviceURI);
    /// @notice `orchestrator`'s services are now `services`.
    event ServicesUpdated(address indexed orchestrator, Service[] services);
    /// @notice `orchestrator`'s regions are now `regions`.
    event RegionsUpdated(address indexed orchestrator, bytes32[] regions);

    /// @notice Maximum services per orchestrator.
    uint256 public constant MAX_SERVICES = 32;
    /// @notice Maximum regions per orchestrator.
    uint256 public constant MAX_REGIONS = 32;
    /// @notice Maximum service URI length in bytes.
    uint256 public constant MAX_URI_LENGTH = 512;

    struct Record {
        uint256 index; // position in _list plus one; zero when not listed
        string serviceURI;
        Service[] services;
        bytes32[] regions;
    }

    struct VerifierRecord {
        address current;
        address previous;
        uint64 changedAt;
    }

    /// @notice Source of stake, activity, reward cut and fee share.
    IBondingManager public immutable bondingManager;
    /// @notice Blocks a replaced or removed verifier stays in force.
    uint256 public immutable verifierGracePeriod;

    address[] private _list;
    mapping(address => Record) private _records;
    mapping(address => mapping(bytes32 => VerifierRecord)) private _verifiers;

    /// @param bondingManager_ The BondingManager.
    /// @param verifierGracePeriod_ Blocks a replaced verifier stays in force; set it to at least the
    /// FaultVerifier's detection horizon (how long after the work a broadcaster may still challenge).
    constructor(IBondingManager bondingManager_, uint256 verifierGracePeriod_) {
        if (address(bondingManager_) == address(0)) revert ZeroAddress();
        bondingManager = bondingManager_;
        verifierGracePeriod = verifierGracePeriod_;
    }

    // ---------------------------------------------------------------- writes

    /// @notice Sets the caller's URI, services and regions in one call.
    function register(string calldata serviceURI, Service[] calldata services, bytes32[] calldata regions)
        external
    {
        Record storage r = _record();
        _setURI(r, serviceURI);
        _setServices(r, services);
        _setRegions(r, regions);
    }

    /// @notice Sets the caller's service URI (where broadcasters reach it).
    function setServiceURI(string calldata serviceURI) external {
        _setURI(_record(), serviceURI);
    }

    /// @notice Replaces the caller's services.
    function setServices(Service[] calldata services) external {
        _setServices(_record(), services);
    }

    /// @notice Replaces the caller's regions.
    function setRegions(bytes32[] calldata regions) external {
        _setRegions(_record(), regions);
    }

    /// @notice Deletes the caller's entry. Removed verifiers stay in force for the grace period.
    function unlist() external {
        _unlist(msg.sender);
    }

    /// @notice Deletes the entry of an orchestrator that is no longer registered in the BondingManager
    /// (it resigned or was slashed). Anyone may call it. Removed verifiers stay in force for the grace
    /// period, as with `unlist`.
    function unlistUnregistered(address orchestrator) external {
        if (bondingManager.orchestratorInfo(orchestrator).registered) revert StillRegistered(orchestrator);
        _unlist(orchestrator);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IServiceRegistry
    function verifierFor(address orchestrator, bytes32 serviceId) external view returns (address) {
        VerifierRecord memory v = _verifiers[orchestrator][serviceId];
        if (v.previous != address(0) && block.number < uint256(v.changedAt) + verifierGracePeriod) {
            return v.previous;
        }
        return v.current;
    }

    /// @notice Number of listed orchestrators.
    function orchestratorCount() external view returns (uint256) {
        return _list.length;
    }

    /// @notice Listed orchestrators `[offset, offset + limit)`, clipped to the list.
    function orchestrators(uint256 offset, uint256 limit) public view returns (address[] memory page) {
        uint256 n = _list.length;
        if (offset >= n) return new address[](0);
        uint256 end = n - offset < limit ? n : offset + limit;
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            page[i - offset] = _list[i];
        }
    }

    /// @notice Whether `orchestrator` has an entry.
    function isListed(address orchestrator) external view returns (bool) {
        return _records[orchestrator].index != 0;
    }

    /// @notice The entry of one orchestrator (empty fields if it has none).
    function getEntry(address orchestrator) public view returns (Entry memory e) {
        Record storage r = _records[orchestrator];
        e.orchestrator = orchestrator;
        e.listed = r.index != 0;
        e.serviceURI = r.serviceURI;
        e.services = r.services;
        e.regions = r.regions;
        IBondingManager.OrchestratorView memory o = bondingManager.orchestratorInfo(orchestrator);
        e.registered = o.registered;
        e.active = o.active;
        e.stake = o.stake;
        e.rewardCut = o.rewardCut;
        e.feeShare = o.feeShare;
        e.lastRewardRound = o.lastRewardRound;
    }

    /// @notice The entries of many orchestrators.
    function getEntries(address[] calldata orchestrators_) external view returns (Entry[] memory entries) {
        entries = new Entry[](orchestrators_.length);
        for (uint256 i; i < orchestrators_.length; ++i) {
            entries[i] = getEntry(orchestrators_[i]);
        }
    }

    /// @notice The entries of listed orchestrators `[offset, offset + limit)`: discovery in one call.
    function getEntriesPage(uint256 offset, uint256 limit) external view returns (Entry[] memory entries) {
        address[] memory page = orchestrators(offset, limit);
        entries = new Entry[](page.length);
        for (uint256 i; i < page.length; ++i) {
            entries[i] = getEntry(page[i]);
        }
    }

    /// @notice Whether `id` is a valid service id or region: non-zero, printable ASCII without capitals,
    /// left-aligned and zero-padded.
    function isCanonical(bytes32 id) public pure returns (bool) {
        if (id == bytes32(0)) return false;
        bool ended;
        for (uint256 i; i < 32; ++i) {
            uint8 c = uint8(id[i]);
            if (ended) {
                if (c != 0) return false;
            } else if (c == 0) {
                ended = true;
            } else if (c < 0x20 || c > 0x7e || (c >= 0x41 && c <= 0x5a)) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- internals

    function _unlist(address orchestrator) private {
        Record storage r = _records[orchestrator];
        uint256 index = r.index;
        if (index == 0) revert NotListed(orchestrator);
        Service[] storage services = r.services;
        for (uint256 i; i < services.length; ++i) {
            _changeVerifier(orchestrator, services[i].id, address(0));
        }
        address last = _list[_list.length - 1];
        _list[index - 1] = last;
        _records[last].index = index;
        _list.pop();
        delete _records[orchestrator];
        emit Unlisted(orchestrator);
    }

    /// @dev The caller's record, created (listed) on first use. Every write goes through here, so every
    /// write requires the caller to be a registered orchestrator.
    function _record() private returns (Record storage r) {
        if (!bondingManager.orchestratorInfo(msg.sender).registered) revert NotRegistered(msg.sender);
        r = _records[msg.sender];
        if (r.index == 0) {
            _list.push(msg.sender);
            r.index = _list.length;
            emit Listed(msg.sender);
        }
    }

    function _setURI(Record storage r, string calldata serviceURI) private {
        uint256 length = bytes(serviceURI).length;
        if (length == 0 || length > MAX_URI_LENGTH) revert InvalidURILength(length);
        r.serviceURI = serviceURI;
        emit ServiceURIUpdated(msg.sender, serviceURI);
    }

    function _setServices(Record storage r, Service[] calldata services) private {
        uint256 n = services.length;
        if (n > MAX_SERVICES) revert TooManyServices(n);
        for (uint256 i; i < n; ++i) {
            bytes32 id = services[i].id;
            if (!isCanonical(id)) revert InvalidServiceId(id);
            for (uint256 j; j < i; ++j) {
                if (services[j].id == id) revert DuplicateServiceId(id);
            }
        }
        Service[] storage stored = r.services;
        // Services that disappear lose their verifier (after the grace period).
        for (uint256 i; i < stored.length; ++i) {
            bytes32 id = stored[i].id;
            bool kept;
            for (uint256 j; j < n; ++j) {
                if (services[j].id == id) {
                    kept = true;
                    break;
                }
            }
            if (!kept) _changeVerifier(msg.sender, id, address(0));
        }
        delete r.services;
        for (uint256 i; i < n; ++i) {
            r.services.push(services[i]);
            _changeVerifier(msg.sender, services[i].id, services[i].verifier);
        }
        emit ServicesUpdated(msg.sender, services);
    }

    function _setRegions(Record storage r, bytes32[] calldata regions) private {
        uint256 n = regions.length;
        if (n > MAX_REGIONS) revert TooManyRegions(n);
        for (uint256 i; i < n; ++i) {
            bytes32 region = regions[i];
            if (!isCanonical(region)) revert InvalidRegion(region);
            for (uint256 j; j < i; ++j) {
                if (regions[j] == region) revert DuplicateRegion(region);
            }
        }
        r.regions = regions;
        emit RegionsUpdated(msg.sender, regions);
    }

    function _changeVerifier(address orchestrator, bytes32 id, address verifier) private {
        VerifierRecord storage v = _verifiers[orchestrator][id];
        if (v.current == verifier) return;
        bool inGrace = v.previous != address(0) && block.number < uint256(v.changedAt) + verifierGracePeriod;
        if (!inGrace) v.previous = v.current;
        v.current = verifier;
        v.changedAt = uint64(block.number);
    }
}
