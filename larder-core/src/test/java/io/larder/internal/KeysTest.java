package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.LarderException;
import org.junit.jupiter.api.Test;

class KeysTest {
  @Test
  void upperBoundIsTheLeastStringAfterThePrefix() {
    assertThat(Keys.upperBound("abc")).isEqualTo("abd");
    assertThat(Keys.upperBound("a:")).isEqualTo("a;");
    assertThat(Keys.upperBound("")).isNull();
    assertThat(Keys.upperBound("a\uD7FF")).isEqualTo("a\uE000"); // skips the surrogate range
    String max = new String(Character.toChars(Character.MAX_CODE_POINT));
    assertThat(Keys.upperBound("a" + max)).isEqualTo("b");
    assertThat(Keys.upperBound(max + max)).isNull();
    assertThat(Keys.upperBound("x\uD83D\uDE00")).isEqualTo("x\uD83D\uDE01"); // a supplementary code point
  }

  @Test
  void groupsOfKeys() {
    assertThat(Keys.group("build:mylib:1.0.1", 0)).isEqualTo("build:mylib");
    assertThat(Keys.group("nosegments", 0)).isEqualTo("");
    assertThat(Keys.group("build:mylib:1.0.1:linux", 2)).isEqualTo("build:mylib");
    assertThat(Keys.group("build:mylib", 2)).as("fewer segments than asked: the whole key").isEqualTo("build:mylib");
    assertThat(Keys.group("a:b:c", 1)).isEqualTo("a");
  }

  @Test
  void oddButValidKeysAreAccepted() {
    for (String k : new String[] {"a/b", "..", "../../etc/passwd", "with space", "ünïcødé", "\uD83D\uDE00", "C:\\x", "a".repeat(4096)}) {
      assertThat(Keys.check(k)).isEqualTo(k);
    }
  }

  @Test
  void badKeysAreRefusedWithAClearMessage() {
    assertInvalid("", "empty");
    assertInvalid("a\u0000b", "control character U+0000");
    assertInvalid("a\nb", "control character U+000A");
    assertInvalid("a\u0085b", "control character U+0085"); // NEL, a C1 control
    assertInvalid("a\u009Fb", "control character U+009F");
    assertInvalid("a\uD800", "unpaired surrogate");
    assertInvalid("\uDC00a", "unpaired surrogate");
    assertInvalid("a".repeat(4097), "over 4096 bytes");
    assertInvalid("é".repeat(2049), "over 4096 bytes");
  }

  private static void assertInvalid(String key, String message) {
    assertThatThrownBy(() -> Keys.check(key))
        .isInstanceOfSatisfying(LarderException.InvalidInput.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.INVALID_KEY))
        .hasMessageContaining(message);
  }
}
