# expect: 5:29: unexpected 'regoin'; expected 'region' or 'since'; did you mean 'region'?
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
clock moved = labeldiff(s1, regoin=image) >= 0.25
compute s1 when 1
compute s2 when moved
output fuse(s1, s2)
