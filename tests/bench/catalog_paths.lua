-- wrk script: requests the paths listed in $BENCH_PATHS (one per line) in a
-- random order, so the run mixes products or search queries.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
    paths[#paths + 1] = line
end
math.randomseed(os.time())
request = function()
    return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
    io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect +
        summary.errors.read + summary.errors.write + summary.errors.timeout))
end
