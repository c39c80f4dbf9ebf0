/**
 * Larder's store: a content-addressable cache in a directory, verified on every read.
 *
 * <p>The API is {@link io.larder.Larder} and the values, options and errors beside it in {@code io.larder},
 * and the interfaces a storage backend or a remote tier implements in {@code io.larder.spi}. The engine
 * (package-private classes of {@code io.larder}, and {@code io.larder.internal}) is not exported.
 */
module io.larder {
  requires java.sql;
  requires org.xerial.sqlitejdbc;
  requires com.github.luben.zstd_jni;
  requires com.fasterxml.jackson.core;

  exports io.larder;
  exports io.larder.spi;
}
