// Starts the pinned s3rver through its CLI module (the package ships no bin).
//
// s3rver 4.0.4 deletes the keys of one DeleteObjects request (s3_delete_many)
// concurrently, and each delete then removes the folders it left empty: two
// deletes that empty the same folder race, and the loser's readdir or rm fails
// with ENOENT, answering 500 for the whole request although every object is
// gone. A folder already removed is what that delete wanted (R2 has no
// folders), so that error is dropped; the object's own files were unlinked
// before it.
const FilesystemStore = require('@20minutes/s3rver/lib/stores/filesystem');

const deleteObject = FilesystemStore.prototype.deleteObject;
FilesystemStore.prototype.deleteObject = async function (bucket, key) {
  try {
    await deleteObject.call(this, bucket, key);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
};

require('@20minutes/s3rver/lib/cli').parseAsync(process.argv);
