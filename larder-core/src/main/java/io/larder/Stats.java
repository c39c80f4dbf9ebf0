package io.larder;

import java.nio.file.Path;

/**
 * Counts of a store.
 *
 * @param entries index entries (including expired ones not yet swept)
 * @param blobs distinct content blobs known to the index
 * @param bytes sum of the sizes of those blobs (content stored once however many keys share it)
 * @param inlineBlobs how many of the blobs are small enough to live inside the index
 * @param indexBytes size of the index files on disk (the index and its access times, each with its write-ahead log)
 * @param root the store's directory
 */
public record Stats(long entries, long blobs, long bytes, long inlineBlobs, long indexBytes, Path root) {}
