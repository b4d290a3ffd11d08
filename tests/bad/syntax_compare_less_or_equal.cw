# expect: 4:42: unexpected character '<'; expected '>=' or '>'; a clock fires when the pixel change reaches θ (pixeldiff(since=previous) >= 0.02); to fire while it stays at or below θ, negate it: not pixeldiff(since=previous) > 0.02
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when pixeldiff(since=previous)<= 0.02
output fuse(s1)
