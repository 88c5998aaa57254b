#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "squall/core/asio.hpp"
#include "squall/core/process/supervisor.hpp"
#include "squall/sensors/sensor.hpp"

namespace squall::sensors {

/// One line a sensor process wrote to stdout (SPEC §3.3): `{"trigger": "<ref>", "payload": {...}, "trace_tag":
/// "..."}`.
struct SensorLine {
    std::string trigger;
    Json payload = Json::object();
    std::string trace_tag;
};
/// Parses one stdout line of a sensor. kInvalidArgument saying what is wrong (not JSON, not an object, `trigger`
/// missing or not a ref, `payload` not an object, `trace_tag` not a string, unknown keys).
Result<SensorLine> ParseSensorLine(std::string_view line);

struct SensorHostOptions {
    /// A sensor's lease lifetime: a holder that stops renewing it is replaced within this (plus one poll).
    std::chrono::milliseconds lease_ttl{5000};
    /// How often the loop runs: renews the leases, follows the registered sensors, restarts what is due.
    std::chrono::milliseconds poll{500};
    /// Restart delays after a sensor process exits: `backoff_initial`, doubled after each exit up to
    /// `backoff_max`; back to the initial delay once a process ran for `stable_after`.
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{60000};
    std::chrono::milliseconds stable_after{30000};
    /// SIGTERM, then SIGKILL after this (shutdown, a lost lease, a sensor disabled or removed).
    std::chrono::milliseconds stop_grace{5000};
    /// Lines waiting to be dispatched, over all sensors; a line that finds the queue full is dropped and counted.
    size_t max_queue = 10000;
    /// A stdout/stderr line longer than this is cut (the rest dropped).
    size_t max_line_bytes = 1024 * 1024;
    /// SQUALL_API_URL / SQUALL_API_KEY for the sensor processes (the key is masked in their logged output).
    std::string api_url;
    std::string api_key;
    /// `<data_dir>/virtualenvs/<pack>/bin/python` runs a pack's Python sensors when it exists.
    std::string data_dir;
    /// Python for StackStorm sensors without a virtualenv; empty: $SQUALL_PYTHON, else python3.
    std::string python;
};

/// The `sensors` role (SPEC §3.3, docs/sensors.md): runs the registered sensors of packs as child processes.
///
/// - External sensors (any executable entry_point) and StackStorm Python sensors (a `.py` entry_point with a
///   class_name, run by the bundled wrapper sensors/python/squall_sensor_wrapper.py) speak one protocol: one JSON
///   object per stdout line `{trigger, payload, trace_tag}`, the pack config as JSON on stdin, env
///   SQUALL_API_URL/SQUALL_API_KEY. stderr lines go to the log with the sensor's name; malformed lines are logged
///   and counted; payloads are validated against their trigger type's payload_schema (refused: logged and counted,
///   never dispatched).
/// - Each process start and exit emits `core.st2.sensor.process_spawn` / `process_exit`. A process that exits is
///   started again after an exponential backoff; on Stop every process gets SIGTERM, then SIGKILL after a grace.
/// - Several sensors roles share the sensors: each sensor has a lease in Redis (`{s}sensors:lease:<ref>`), so it
///   runs exactly once in the installation, and a role takes at most its fair share (sensors / live roles, from
///   `{s}sensors:members`). When a holder dies its leases expire and the others take its sensors over.
///
/// Threading: one thread of its own runs the loop and dispatches with blocking Redis calls; the processes are
/// supervised on `io` (callbacks only queue work for that thread).
class SensorHost final : public Sensor {
public:
    SensorHost(SensorContext& ctx, asio::io_context& io, SensorHostOptions options);
    ~SensorHost() override;
    std::string Name() const override { return "sensors"; }
    void Start() override;
    /// Stops every sensor process (SIGTERM, SIGKILL after stop_grace), waits for them, and gives the leases up.
    void Stop() override;

    struct Stats {
        uint64_t spawned = 0;     ///< processes started
        uint64_t exited = 0;      ///< processes that ended
        uint64_t dispatched = 0;  ///< trigger instances stored from sensor lines
        uint64_t malformed = 0;   ///< stdout lines that are not the protocol
        uint64_t invalid = 0;     ///< lines whose payload its schema refused, or naming an unknown trigger type
        uint64_t dropped = 0;     ///< lines dropped because the dispatch queue was full
        size_t running = 0;       ///< sensors this host holds and runs now
    };
    Stats stats() const;
    /// Malformed lines of one sensor.
    uint64_t MalformedOf(const std::string& ref) const;

private:
    struct Item;
    struct Held;
    void Loop();
    void PassBlocking();
    void DispatchPending();
    void HandleItem(const Item& item);
    bool RenewBlocking(const std::string& ref);
    bool TakeBlocking(const std::string& ref);
    void ReleaseBlocking(const std::string& ref);
    size_t MembersBlocking();
    void StartProcess(Held& held);
    /// The pack config a sensor process gets: its datastore templates rendered (what they decrypted in *revealed,
    /// to mask in what the sensor logs), or as stored when it does not render (logged).
    Json RenderedConfig(
        const packs::ContentSnapshot& snap, const std::string& pack, const std::string& ref, Json* revealed
    );
    void StopProcess(Held& held);
    void OnLine(const std::string& ref, std::string_view stream, std::string line);
    void OnSpawned(const std::string& ref, uint64_t generation, int pid, const std::string& cmd);
    void OnExit(const std::string& ref, uint64_t generation, const core::ProcessOutcome& outcome);
    void Enqueue(Item item);
    std::string LeaseKey(const std::string& ref) const;

    SensorContext& ctx_;
    SensorHostOptions options_;
    std::string members_key_;
    PayloadValidator validator_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::map<std::string, std::unique_ptr<Held>> held_;  // guarded by mu_ (the loop thread changes it)
    std::deque<Item> queue_;                             // guarded by mu_
    std::map<std::string, uint64_t> malformed_;          // guarded by mu_
    Stats stats_;                                        // guarded by mu_
    uint64_t next_generation_ = 1;                       // guarded by mu_
    /// Declared late so that it goes first: its destructor kills what still runs before the state above goes.
    core::ProcessSupervisor supervisor_;
    std::thread thread_;
};

}  // namespace squall::sensors
