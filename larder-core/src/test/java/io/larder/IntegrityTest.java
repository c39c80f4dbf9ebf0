package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class IntegrityTest {
  // sha256("") in its three spellings
  private static final String HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private static final String SRI = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

  @Test
  void sriOciAndBareHexNameTheSameDigest() {
    Integrity sri = Integrity.parse(SRI);
    assertThat(Integrity.parse("sha256:" + HEX)).isEqualTo(sri);
    assertThat(Integrity.parse(HEX)).isEqualTo(sri);
    assertThat(Integrity.parse(HEX.toUpperCase())).isEqualTo(sri);
    assertThat(sri.toString()).isEqualTo(SRI);
    assertThat(sri.strongest().hex()).isEqualTo(HEX);
  }

  @Test
  void computeMatchesKnownDigest() {
    assertThat(Integrity.compute(Algorithm.SHA256, new byte[0]).toString()).isEqualTo(SRI);
  }

  @Test
  void severalHashesAreKeptStrongestFirstAndUnknownAlgorithmsIgnored() {
    byte[] data = "hello".getBytes(StandardCharsets.UTF_8);
    String s512 = Integrity.compute(Algorithm.SHA512, data).toString();
    String s1 = Integrity.compute(Algorithm.SHA1, data).toString();
    Integrity both = Integrity.parse(s1 + " md5-XUFAKrxLKna5cZ2REBfFkg== " + s512 + "?opt");
    assertThat(both.hashes()).hasSize(2);
    assertThat(both.strongest().algorithm()).isEqualTo(Algorithm.SHA512);
    assertThat(both.matches(Integrity.compute(Algorithm.SHA512, data))).isTrue();
    assertThat(both.matches(Integrity.compute(Algorithm.SHA512, "other".getBytes(StandardCharsets.UTF_8)))).isFalse();
    assertThat(both.matches(Integrity.compute(Algorithm.SHA256, data))).as("no algorithm in common").isFalse();
  }

  @Test
  void malformedStringsAreRefusedWithAMessageNamingTheForms() {
    for (String bad : new String[] {"", "   ", "sha256", "sha256-", "sha256-!!!!", "sha256-AAAA", "md5-XUFAKrxLKna5cZ2REBfFkg==",
        "sha256:abc", "abc", HEX + "0", "sha256:" + HEX + "00"}) {
      assertThatThrownBy(() -> Integrity.parse(bad))
          .as(bad)
          .isInstanceOfSatisfying(LarderException.InvalidInput.class,
              e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.INVALID_INTEGRITY))
          .hasMessageContaining("expected SRI");
    }
  }
}
