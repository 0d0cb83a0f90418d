// Starts the pinned s3rver through its CLI module (the package ships no bin).
require('@20minutes/s3rver/lib/cli').parseAsync(process.argv);
