-- wrk script of benchmarks/serve_bench.py: POSTs JSON request bodies to the URL's path
-- (/predict), one body per line of the file named after `--`, in turn (each thread starts
-- at its own place), and prints the run's numbers as one JSON line starting with RESULT.
--
--   wrk -t 1 -c 8 -d 5s --latency -s serve_bench.lua http://127.0.0.1:8080/predict -- bodies.jsonl

local requests = {}
local next_index = 0

function setup(thread)
   thread:set("thread_id", setup_count or 0)
   setup_count = (setup_count or 0) + 1
end

function init(args)
   local path = args[1]
   if path == nil then
      error("serve_bench.lua: pass the file of request bodies after --")
   end
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      if #line > 0 then
         requests[#requests + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, line)
      end
   end
   f:close()
   if #requests == 0 then
      error("serve_bench.lua: no request bodies in " .. path)
   end
   next_index = ((thread_id or 0) * 7919) % #requests
end

function request()
   next_index = next_index % #requests + 1
   return requests[next_index]
end

function done(summary, latency, _)
   local e = summary.errors
   io.write(string.format(
      'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, '
         .. '"mean_us": %.1f, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
         .. '"timeout": %d}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
      latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
