package io.larder;

import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A listing streamed page by page: each page is fetched when the previous one is consumed, from the last key
 * seen, so no lock or cursor is held between pages. Expired entries are left out.
 */
final class Pages {
  /** Entries per page. */
  static final int SIZE = 512;

  private Pages() {}

  /**
   * One page: its entries, and where the next page starts (the last key the source listed, which need not
   * be the last entry's: a source may leave out keys it listed) or {@code null} after the last page.
   */
  record Page(List<Entry> entries, String nextAfter) {
    /** A page of a source that lists exactly its entries: the last when shorter than {@link #SIZE}. */
    static Page of(List<Entry> entries) {
      return new Page(entries, entries.size() < SIZE ? null : entries.get(entries.size() - 1).key());
    }
  }

  /** The entries of {@code first} and of the pages after it ({@code next} gives the page after a key), unexpired at {@code now}. */
  static Stream<Entry> stream(Page first, Function<String, Page> next, Instant now) {
    Iterator<Entry> entries = new Iterator<>() {
      private Page page = first;
      private int i;

      @Override
      public boolean hasNext() {
        while (i >= page.entries().size()) {
          if (page.nextAfter() == null) {
            return false;
          }
          page = next.apply(page.nextAfter());
          i = 0;
        }
        return true;
      }

      @Override
      public Entry next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return page.entries().get(i++);
      }
    };
    return StreamSupport.stream(Spliterators.spliteratorUnknownSize(entries,
        Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.DISTINCT), false)
        .filter(e -> !e.isExpired(now));
  }
}
